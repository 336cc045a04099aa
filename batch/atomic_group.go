package batch

import (
	"os"
	"sync"
)

// groupCommit commits the outputs of a destination in groups: those whose
// commit is called while a group is being made durable form the next
// group, so a run pays two rounds of syncs per group rather than per file.
//
// A group is committed in three steps, each over the whole group:
//
//  1. the data: syncfs(2) of the destination's file system (Linux 5.8 or
//     later, whose syncfs reports write-back errors) for more than one
//     file, else an fsync of each file; a file on another file system
//     (below a mount point in the destination) is fsync'd in any case;
//  2. each file linked (or renamed) under its target name;
//  3. the links: an fsync of each distinct directory.
//
// Then, and only then, each commit returns, so an output is reported done,
// and its audit line written, only once durable. Step 1 of the next group
// runs while steps 2 and 3 of a group do: they touch only the group's own
// files and directories. A crash before step 2
// leaves no name (an unnamed file vanishes; a named temporary file is
// removed by a later run); during or after it, a name that survived
// points at data step 1 made durable before the name existed, so a
// target never holds part of its content. A failed step 1 fails the whole
// group, as it cannot tell which file's data was lost, and links none;
// syncfs reports a write-back error of any file of the file system since
// its last call, another process's too, which fails a group needlessly
// but never reports lost data done.
type groupCommit struct {
	// fs, if set, is a directory on the destination's file system whose
	// syncfs(2) reports write-back errors; nil: fsync each file.
	fs *os.File

	// step, if set, is called after each step of a group ("data", "link",
	// "dirs") with the group's outputs, for tests.
	step func(name string, group []*atomicFile)
	// fsync, if set, replaces each file's own fsync, for tests.
	fsync func(*os.File) error

	mu      sync.Mutex
	pending []*commitReq // waiting for the next group; the first leads it
	busy    bool         // a group's data is being synced
}

type commitReq struct {
	a    *atomicFile
	err  error
	wake chan bool // true: lead the next group; false: done, err set
}

// commit adds a to the next group and returns once that group is durable,
// with a's error. The caller that finds no group syncing its data leads:
// it syncs the pending group's data, hands the lead to the first caller
// that arrived meanwhile, if any, then links the group and syncs its
// directories; so no caller waits longer than two groups.
func (g *groupCommit) commit(a *atomicFile) error {
	r := &commitReq{a: a, wake: make(chan bool, 1)}
	g.mu.Lock()
	g.pending = append(g.pending, r)
	lead := !g.busy
	g.busy = true
	g.mu.Unlock()
	if !lead && !<-r.wake {
		return r.err
	}
	g.mu.Lock()
	group := g.pending
	g.pending = nil
	g.mu.Unlock()
	errs := g.syncData(group)
	g.report("data", group)
	// The next group's data syncs while this one's names are made.
	g.mu.Lock()
	if len(g.pending) > 0 {
		g.pending[0].wake <- true
	} else {
		g.busy = false
	}
	g.mu.Unlock()
	g.publish(group, errs)
	return r.err
}

// publish links each file of group whose data synced (errs[i] == nil),
// syncs their directories, sets each request's error and wakes each but
// the first (the leader, the caller).
func (g *groupCommit) publish(group []*commitReq, errs []error) {
	dirs := map[string]*os.File{}
	for i, r := range group {
		r.err = r.a.finish(errs[i])
		if r.err == nil {
			dirs[r.a.dirRel] = r.a.dir.File
		}
	}
	g.report("link", group)
	if len(dirs) > 0 {
		group[0].a.dir.dirs.syncNewParents() // the outputs' new directories' entries
	}
	for _, d := range dirs {
		syncDir(d)
	}
	g.report("dirs", group)
	for i, r := range group {
		r.a.dir.release()
		if i > 0 {
			r.wake <- false
		}
	}
}

func (g *groupCommit) report(step string, group []*commitReq) {
	if g.step == nil {
		return
	}
	files := make([]*atomicFile, len(group))
	for i, r := range group {
		files[i] = r.a
	}
	g.step(step, files)
}

// syncData makes the data of every file of group durable, and returns each
// file's error.
func (g *groupCommit) syncData(group []*commitReq) []error {
	errs := make([]error, len(group))
	each := make([]int, 0, len(group)) // the files fsync'd one by one
	// One file alone is fsync'd: as cheap, and it waits for no other
	// process's writes. A file on another file system (below a mount
	// point in the destination) is fsync'd too: the syncfs does not
	// reach it.
	if g.fs != nil && len(group) > 1 {
		var on []int
		for i, r := range group {
			if sameFileSystem(g.fs, r.a.File) {
				on = append(on, i)
			} else {
				each = append(each, i)
			}
		}
		if len(on) > 0 {
			if err := syncFS(g.fs); err != nil {
				err = &os.PathError{Op: "syncfs", Path: g.fs.Name(), Err: err}
				for _, i := range on {
					errs[i] = err
				}
			}
		}
	} else {
		for i := range group {
			each = append(each, i)
		}
	}
	// Concurrent fsyncs share the file system's journal commits.
	var wg sync.WaitGroup
	for _, i := range each {
		f := group[i].a.File
		wg.Go(func() {
			if g.fsync != nil {
				errs[i] = g.fsync(f)
			} else {
				errs[i] = f.Sync()
			}
		})
	}
	wg.Wait()
	return errs
}
