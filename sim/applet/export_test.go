package applet

// AID returns the applet's application identifier, F0424C4941544D01.
func AID() []byte { return []byte(aid) }
