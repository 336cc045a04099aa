// Package jsesdk runs the AWS Encryption SDK for JavaScript
// (@aws-crypto/client-node 5.0.2, via interop/esdk/js/esdk.js under node) from Go,
// for interop tests. It needs node on PATH and the script's dependencies
// installed: `npm ci --prefix interop/esdk/js`.
//
// The script directory is interop/esdk/js next to this package's source, or the
// directory named by the PHICRYPT_JS_DIR environment variable.
package jsesdk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// SetupHint is the command that installs the JavaScript dependencies.
const SetupHint = "run `npm ci --prefix interop/esdk/js` first"

// Dir returns the directory that holds esdk.js and package.json.
func Dir() string {
	if d := os.Getenv("PHICRYPT_JS_DIR"); d != "" {
		return d
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return filepath.Join("interop", "esdk", "js")
	}
	return filepath.Join(filepath.Dir(file), "..", "js")
}

// Available reports whether node is on PATH and the JavaScript ESDK is
// installed in Dir()/node_modules.
func Available() bool {
	if _, err := exec.LookPath("node"); err != nil {
		return false
	}
	d := Dir()
	if _, err := os.Stat(filepath.Join(d, "esdk.js")); err != nil {
		return false
	}
	_, err := os.Stat(filepath.Join(d, "node_modules", "@aws-crypto", "client-node", "package.json"))
	return err == nil
}

// Encrypt encrypts in with a raw AES keyring (key in hex, 16/24/32 bytes;
// namespace ns, key name name), frame length frame (0 = SDK default 4096)
// and encryption context ec. The JS client uses the REQUIRE_ENCRYPT_REQUIRE_DECRYPT
// policy, so the suite is the default 0x0578.
func Encrypt(ctx context.Context, keyHex, ns, name string, frame int, ec map[string]string, in []byte) ([]byte, error) {
	args := []string{"encrypt"}
	if frame != 0 {
		args = append(args, "--frame", strconv.Itoa(frame))
	}
	return run(ctx, args, keyHex, ns, name, ec, in)
}

// Decrypt decrypts in with a raw AES keyring. frame is ignored (it keeps the
// signature symmetric with Encrypt). Every pair of ec must be present with
// the same value in the message's header encryption context; the JS ESDK
// 5.0.2 has no reproduced-context input of its own.
func Decrypt(ctx context.Context, keyHex, ns, name string, frame int, ec map[string]string, in []byte) ([]byte, error) {
	_ = frame
	return run(ctx, []string{"decrypt"}, keyHex, ns, name, ec, in)
}

func run(ctx context.Context, args []string, keyHex, ns, name string, ec map[string]string, in []byte) ([]byte, error) {
	if !Available() {
		return nil, errors.New("jsesdk: JavaScript ESDK not available: " + SetupHint)
	}
	d := Dir()
	full := append([]string{filepath.Join(d, "esdk.js")}, args...)
	full = append(full, "--aes-key-hex", keyHex, "--namespace", ns, "--name", name)
	for k, v := range ec {
		if strings.Contains(k, "=") {
			return nil, fmt.Errorf("jsesdk: encryption context key %q contains '='", k)
		}
		full = append(full, "--context", k+"="+v)
	}
	cmd := exec.CommandContext(ctx, "node", full...)
	cmd.Dir = d
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return nil, fmt.Errorf("jsesdk %s: %w", args[0], err)
		}
		return nil, fmt.Errorf("jsesdk %s: %w: %s", args[0], err, msg)
	}
	return stdout.Bytes(), nil
}
