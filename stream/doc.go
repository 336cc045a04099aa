// Package stream seals and opens the framed body of an AWS Encryption SDK
// message. It knows the data key only as a cipher.AEAD and nothing of
// keyrings, headers or signatures.
//
// A framed body is a sequence of regular frames followed by exactly one
// final frame. All integers are big-endian.
//
//	regular frame:  seq (4) | IV (12) | ciphertext (FrameLength) | tag (16)
//	final frame:    FF FF FF FF | seq (4) | IV (12) | len (4) | ciphertext (len) | tag (16)
//
// Sequence numbers start at 1 and increase by one; the final frame carries
// the last one and its content length is at most FrameLength (it may be 0).
// The IV written by this package is the sequence number, big-endian and
// right-aligned in 12 bytes. Readers use the IV stored in the frame, as the
// official SDKs do; a wrong IV fails authentication like any other flipped
// bit. Each frame is AES-GCM sealed with additional data
//
//	message ID (16 or 32) | content string | seq (4) | content length (8)
//
// where the content string is "AWSKMSEncryptionClient Frame" for regular
// frames, "AWSKMSEncryptionClient Final Frame" for the final frame, and
// "AWSKMSEncryptionClient Single Block" for the legacy non-framed body
//
//	non-framed body: IV (12) | len (8) | ciphertext (len) | tag (16)
//
// which this package opens but never writes.
//
// Invariants: a Reader returns plaintext only from frames whose tag
// verified, in sequence order, and returns io.EOF only after the final
// frame verified and the Config.Final hook (if any) accepted the message.
// A Reader's memory grows only with the bytes that arrive: a frame
// declaring up to 4 GiB costs what the source actually sends (frames over
// 1 MiB are read in chunks until half of them arrived), so a limit on the
// frame length, if any, is the caller's (envelope applies one).
// A Reader zeroes the buffers it holds once it returned its last plaintext
// and io.EOF or an error; a Writer, on Close. Only then does either give
// its large buffers (whole frames, packed arrays, whole chunks) to
// Config.Buffers, if set, for the next stream to reuse: a stream's memory
// is then memory a previous stream touched, not fresh pages the kernel
// faults in and zeroes per stream (with 2 workers, io.Copy into a Writer
// holds 2 MiB).
// A Writer emits the same bytes for the same inputs whatever the sizes of
// the individual Write calls. Errors are sticky: once a Writer or Reader
// failed, every later call returns the same error. A broken internal
// invariant panics with "stream: internal error", never goes on quietly.
// A source's Read count is checked, never trusted: one outside [0, len(p)]
// fails the stream with io.ErrShortBuffer, and 100 Reads in a row that
// return nothing and no error with io.ErrNoProgress (a Writer's ReadFrom
// keeps what it read before, as for any read error). So is a
// destination's Write count: outside [0, len(p)], or short with no
// error, it is io.ErrShortWrite, as io.Copy reports it. A panic of a
// source, a destination or a ReaderAt on a worker goroutine is raised
// again in the caller; a Writer one of whose calls panicked writes
// nothing more, and its Close only stops its workers. Writer.Abort ends
// a stream without its final frame. Config.Workers is at most MaxWorkers
// (256); one-shot Seal and Open refuse a dst whose spare capacity
// overlaps their input (ErrBufferOverlap).
//
// With Config.Workers W > 1 a Writer or Reader is a pipeline: a ring of
// frames in flight, handed out in jobs of 256 KiB of plaintext (one frame
// if frames are larger, at most 256 frames) to W-1 goroutines, the calling
// goroutine being the W-th: when it would wait for a frame, it seals or
// opens the oldest job no goroutine has started. A full ring is refilled
// (Reader) or drained (Writer) a job at a time, so the steady state costs
// one hand-off per job. Memory in flight is at most W × max(512 KiB, 2
// frames) of frame buffers whatever the size of the message (a Writer fed
// by ReadFrom: twice that; see Writer); the whole frames of a large Write are
// sealed straight from it. A Reader reads the ring (2W jobs) ahead before
// it releases a frame, and a Writer writes a frame up
// to a ring after its plaintext: on a live stream, data arrives that late.
// A message of less than one job starts no goroutine; under MinParallel
// (4 MiB) a pipeline costs more than it saves, which only a caller that
// knows the length can act on (envelope does). The caller's own
// share (reading plaintext into frames, parsing, writing frames out) is
// serial: if it costs c of the GCM time, W workers on W cores reach at
// most about 1/(1+c) of raw AES-GCM on W goroutines, the machine's limit,
// not the pipeline's.
//
// A Writer's ReadFrom (what io.Copy calls) reads into buffers aligned to
// 64 bytes, and once a group of frames of up to 128 KiB is written, reads
// a group at a time: a Read fills a run of frames' plaintext in one array,
// the frames are sealed out of place into a second one, back to back, and
// a run of them goes out in one Write — from and to files, a read and a
// write call per frame cost as much as sealing a 4 KiB frame. Serially
// the arrays are a ring of two groups; with W > 1 workers each worker,
// the caller's goroutine among them, takes the read turn in order, reads
// the next group into arrays of its own, seals it and writes it in order,
// so no byte is read on one core and sealed on another, and the caller's
// share is no longer serial: a Writer fed by io.Copy from one io.Reader
// reaches what W goroutines each copying and sealing their own share do.
// It reads in turns once a group and a frame after it were read (the
// group sealed by the caller); the other workers start only then, and
// one that starts after the caller finished runs nothing and is not
// waited for: on a VM an idle core can take 100 µs to start a goroutine.
//
// A Reader reads a frame (and, with W > 1, the next frame's header) at a
// time into a buffer of its own, never past the body. With
// Config.ReadPast it reads chunks instead, of a job's frames (128 KiB
// serially), and opens each frame where it landed: one copy of the
// ciphertext, the read itself, and one Read per chunk rather than per
// frame, which 4 KiB frames (the official SDKs' default) need. Frames
// under 32 KiB are opened out of place, back to back in a buffer of the
// chunk's size (twice the memory), so WriteTo hands their plaintext on a
// chunk at a time, not a Write per frame. It still
// reads only while the body is known to hold more bytes, so it never
// waits for bytes past the body, but a Read may return some: Rest holds
// them for the layer above (envelope reads the footer from there), and
// Config.Tee sees the body alone (envelope hashes a signed one with it).
// With W > 1 workers, WriteTo (what io.Copy calls) opens the first group
// of a body longer than one in the caller and the rest in turns, as a
// Writer's ReadFrom reads: each
// worker takes the read turn in order, reads and parses the next chunk
// into buffers of its own (the few bytes of a frame the previous chunk
// cut are carried over), opens it there and writes its plaintext in
// order, the final frame only once Final accepted it.
//
// A body's lengths follow from the frame length: SealedLength (body from
// plaintext), PlaintextLength (plaintext from body), SealedRange (the
// bytes holding a plaintext range) and, from the frame headers, BodyLength
// and Scan. The format layers above use these and compute none of their
// own.
package stream
