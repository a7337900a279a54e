//go:build !linux

package moto

import "os/exec"

func setProcAttrs(cmd *exec.Cmd) {}

func stopProcess(cmd *exec.Cmd) { _ = cmd.Process.Kill() }
