package config

// Audit holds the audit-trail settings (see package audit).
type Audit struct {
}

// validateAudit checks the audit section; errors name the key.
func (a *Audit) validate() []string { return nil }

// applyDefaults fills the audit keys the file left out.
func (a *Audit) applyDefaults() {}
