"""Hostile text made safe to print: libgtobserve's gto_text_safe rule.

Thread names come from whoever controls the program's input (a server
names threads by client address), and symbol and file names from its
ELF files: any of them can hold a terminal escape, a newline that splits
a one-line message, or bytes that are not UTF-8.  Every such string the
extension prints goes through text_safe first, once, where it is read,
so text output, error lines and JSON carry the same escaped text, and
every gt reader prints the same bytes for it.

The rule, byte for byte that of tools/observe/format.c: valid printable
UTF-8 (RFC 3629: no overlong form, no surrogate, nothing past U+10FFFF)
passes unchanged; each byte below 0x20, 0x7f, each byte of an invalid or
overlong sequence, and each byte of a C1 control (U+0080..U+009F) becomes
"\\xNN" (lowercase hex); a backslash becomes "\\\\".
"""
import re

# One well-formed UTF-8 sequence (RFC 3629, Table 3-7 of Unicode).
_SEQ = re.compile(rb"[\x00-\x7f]|[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]"
                  rb"|[\xe1-\xec\xee\xef][\x80-\xbf]{2}|\xed[\x80-\x9f][\x80-\xbf]"
                  rb"|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
                  rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}")
# Text that needs no change: printable ASCII but the backslash.
_PLAIN = re.compile(rb"[\x20-\x5b\x5d-\x7e]*")


def _hex(b):
    return "".join("\\x%02x" % c for c in b)


def text_safe(s):
    """The printable form of s (bytes, or a str GDB decoded, whose
    undecodable bytes it kept as surrogate escapes)."""
    if s is None:
        return None
    if isinstance(s, (bytes, bytearray)):
        raw = bytes(s)
    else:
        try:
            raw = s.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # a surrogate of its own: escaped below
            raw = s.encode("utf-8", "surrogatepass")
    if _PLAIN.fullmatch(raw):
        return raw.decode("ascii")
    out = []
    i, n, match = 0, len(raw), _SEQ.match
    while i < n:
        m = match(raw, i)
        if m is None:               # a byte no valid sequence starts here
            out.append("\\x%02x" % raw[i])
            i += 1
            continue
        seq = m.group()
        c = seq[0]
        if c == 0x5c:
            out.append("\\\\")
        elif c < 0x20 or c == 0x7f or (c == 0xc2 and seq[1] <= 0x9f):
            out.append(_hex(seq))   # C0, DEL, C1 controls
        else:
            out.append(seq.decode("utf-8"))
        i = m.end()
    return "".join(out)
