package scenario

// OK reports whether every step passed.
func (r *Result) OK() bool { return r.Failed == 0 }
