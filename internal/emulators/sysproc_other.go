//go:build unix && !linux

package emulators

import "syscall"

// sysProcAttr puts the child in a process group of its own (see Process).
// Only Linux can also kill the child when its parent dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
