"""Byte ranges of many files in one remote command, and the framing of its answer.

The requests travel on stdin as NUL-separated (path, offset, limit) triples to `xargs -0`, so a
name is never code. The answer is one frame per request, in request order; each begins with an
ASCII header line that gives the length of every variable part after it, so names and data may
hold any bytes (newlines, NULs, text that looks like a header):

    F <path length> <data length> <size> <device:inode>\\n<path><data>   a file that was read
    M <path length>\\n<path>                                             no such file
    E <path length> <message length>\\n<path><message>                  it could not be read

Data, size and identity all come from one open file descriptor, so a file rotated meanwhile is
either entirely the old file or entirely the new one. A negative offset counts from the end: the
size is measured first and the data ends there (monitor.model.read_range). The data goes through a temporary file first:
its length is known before it is sent, however the file changes while it is read.
"""

from __future__ import annotations

from collections.abc import Sequence

from monitor.model import ReadChunk

_SCRIPT = r"""
t=$(mktemp) || exit 4
trap 'rm -f "$t"' EXIT
trap 'exit 5' HUP INT TERM
nl='
'
while [ $# -ge 3 ]; do
  p=$1 o=$2 n=$3
  shift 3
  if [ ! -e "$p" ]; then
    printf 'M %d\n%s' "${#p}" "$p"
  elif r=$( { f=%s
              if [ "$o" -lt 0 ]; then
                f=$(stat -L -c %s /dev/fd/3) || exit
                o=$((f + o)); [ "$o" -ge 0 ] || o=0
                [ "$n" -le $((f - o)) ] || n=$((f - o))
              fi
              dd bs=65536 skip="$o" count="$n" iflag=skip_bytes,count_bytes status=none of="$t" <&3 &&
              stat -L -c "$f %d:%i" /dev/fd/3; } 2>&1 3<"$p" ); then
    printf 'F %d %d %s\n%s' "${#p}" "$(wc -c <"$t")" "${r##*"$nl"}" "$p"
    cat "$t"
  else
    printf 'E %d %d\n%s%s' "${#p}" "${#r}" "$p" "$r"
  fi
done
"""
# LC_ALL=C: ${#p} counts bytes, and messages are in English. 16 triples per shell: with -x, a batch
# that does not fit on a command line fails instead of splitting a triple between two shells.
READ_MANY_ARGV = ("env", "LC_ALL=C", "xargs", "-0", "-r", "-x", "-n", "48", "sh", "-c", _SCRIPT, "sh")


def parse_frames(out: bytes, paths: Sequence[str]) -> dict[str, ReadChunk | None]:
    """The answer to a read of `paths`, in order; ValueError for anything that does not follow the
    framing exactly (a short answer, a header out of place, bytes left over)."""
    found: dict[str, ReadChunk | None] = {}
    pos = 0
    for path in paths:
        end = out.find(b"\n", pos)
        if end < 0:
            raise ValueError(f"no answer for {path!r}")
        header = out[pos:end]
        kind, *fields = header.split(b" ")
        pos = end + 1
        if len(fields) != {b"F": 4, b"M": 1, b"E": 2}.get(kind):
            raise ValueError(f"bad header {header[:80]!r} for {path!r}")
        name, pos = _take(out, pos, _count(fields[0]))
        if name != path.encode(errors="surrogateescape"):
            raise ValueError(f"answer for {name[:80]!r} where {path!r} was expected")
        if kind == b"M":
            found[path] = None
        elif kind == b"E":
            message, pos = _take(out, pos, _count(fields[1]))
            text = message.decode(errors="replace").strip() or "cannot be read"
            found[path] = None if "No such file" in text else ReadChunk(b"", 0, None, text.splitlines()[-1])
        else:
            data, pos = _take(out, pos, _count(fields[1]))
            found[path] = ReadChunk(data, _count(fields[2]), fields[3].decode(errors="replace"))
    if pos != len(out):
        raise ValueError(f"{len(out) - pos} bytes after the last answer")
    return found


def _count(field: bytes) -> int:
    if not field.isdigit():
        raise ValueError(f"not a byte count: {field[:40]!r}")
    return int(field)


def _take(out: bytes, pos: int, length: int) -> tuple[bytes, int]:
    if pos + length > len(out):
        raise ValueError(f"answer cut short ({len(out) - pos} of {length} bytes)")
    return out[pos : pos + length], pos + length
