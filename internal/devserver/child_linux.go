package devserver

import (
	"os/exec"
	"syscall"
)

// childProcAttr puts the -run server in a process group of its own, so
// that a Ctrl-C in the terminal reaches the devserver alone, which then
// stops the server once; and has the kernel kill it when the devserver
// dies without stopping it (SIGKILL).
func childProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// interruptProc sends SIGINT to the server's process group.
func interruptProc(cmd *exec.Cmd) {
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		_ = cmd.Process.Signal(syscall.SIGINT)
	}
}

// killProc kills the server's process group.
func killProc(cmd *exec.Cmd) {
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		_ = cmd.Process.Kill()
	}
}
