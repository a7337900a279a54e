package headless

import (
	"os/exec"
	"syscall"
)

// sysProcAttr puts Chromium in a process group of its own, and kills it if
// the test process dies first.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// kill ends Chromium's process group: the browser and its helpers.
func kill(cmd *exec.Cmd) { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
