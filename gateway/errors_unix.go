package gateway

import "syscall"

// errTooManyFiles is the accept error that a short wait may cure.
const errTooManyFiles = syscall.EMFILE
