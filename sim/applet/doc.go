// Package applet is the simulator's chip card: a minimal EMV-like payment
// applet (the card side, Card.Process, APDUs in and out as ISO/IEC 7816-4
// says) and the terminal side that talks to it (Terminal, over a Transport).
//
// One applet serves every kind of simulated card: LocalTransport calls it in
// process (the card files of the simulator), sim/vpcd puts it behind
// vsmartcard's virtual reader so that the real PC/SC stack reaches it, and
// sim/pcsc gives a Transport over a real reader, for a real card carrying an
// applet with the same commands.
//
// The applet, as a card issuer would document it:
//
//	AID              F0 42 4C 49 41 54 4D 01 ("F0" + "BLIATM" + 01): a proprietary,
//	                 unregistered AID (ISO/IEC 7816-5 category F), so it cannot
//	                 collide with a registered payment application.
//	SELECT           00 A4 04 00 Lc AID [00]  -> FCI 6F { 84 AID, A5 { 50 "BLI ATM" } } 9000
//	                 (selection by the full AID or a leading part of it of at least 5 bytes)
//	READ RECORD      00 B2 01 0C [00]         -> SFI 1 record 1:
//	                 70 { 5A PAN (BCD, F-padded), 5F24 expiry YYMMDD (last day of the month),
//	                      5F34 PAN sequence number (BCD, one byte), 8C CDOL1 = 9F37 04 } 9000
//	GENERATE AC      80 AE P1 00 04 UN(4) [00] -> format 2:
//	                 77 { 9F27 CID, 9F36 ATC, 9F26 cryptogram } 9000
//	                 P1 80 (ARQC) or 40 (TC) give an ARQC (CID 80): the card is online only;
//	                 P1 00 (AAC) gives an AAC (CID 00). Each GENERATE AC is one transaction:
//	                 the ATC goes up by one first (there is no GET PROCESSING OPTIONS).
//	                 When the ATC is FFFF the card refuses (6985) for good.
//
// The cryptogram (9F26) is ISO/IEC 9797-1 MAC algorithm 3 (the retail MAC) with
// DES and the 16-byte card key (K1 || K2), padding method 2 (80 then zero bytes),
// over ATC (2 bytes) || UN (4 bytes) || PAN as in tag 5A (see Cryptogram). The
// gateway does not verify it; a test may, with Cryptogram.
//
// Status words: 9000 success; 6700 wrong length (Lc, or an extended-length
// APDU); 6Cxx wrong Le (xx is the right one); 6985 conditions of use not
// satisfied (a command before SELECT, the ATC exhausted); 6A82 application or
// file not found; 6A83 record not found; 6A86 wrong P1 P2; 6D00 INS not
// supported; 6E00 CLA not supported; 6F00 the card itself is badly personalised
// (a PAN, expiry, sequence or key that cannot be encoded).
package applet
