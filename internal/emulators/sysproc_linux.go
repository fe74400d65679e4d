package emulators

import "syscall"

// sysProcAttr puts the child in a process group of its own (see Process)
// and asks Linux to kill it if the process that started it dies, so that a
// test binary killed by a timeout does not leave a JVM or RIE behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
