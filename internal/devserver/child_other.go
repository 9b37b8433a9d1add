//go:build !linux

package devserver

import (
	"os"
	"os/exec"
)

// childProcAttr leaves the -run server in the devserver's process group:
// a Ctrl-C in the terminal reaches both, and nothing kills the server when
// the devserver dies without stopping it (Linux has Pdeathsig for that).
func childProcAttr(cmd *exec.Cmd) {}

// interruptProc asks the server to stop, or kills it where the system has
// no SIGINT to send (Windows).
func interruptProc(cmd *exec.Cmd) {
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		_ = cmd.Process.Kill()
	}
}

// killProc kills the server.
func killProc(cmd *exec.Cmd) { _ = cmd.Process.Kill() }
