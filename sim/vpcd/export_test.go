package vpcd

// ATR returns the answer to reset of the virtual card: 3B 89 80 01 followed
// by the historical bytes "ATMGW-SIM" and the check byte (T=0 and T=1).
func ATR() []byte { return []byte(atr) }
