package blobtest

import "syscall"

// Kill the test MinIO if the test binary dies without running Main's
// cleanup (a timeout panic, a kill).
func init() { procAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
