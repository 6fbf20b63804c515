"""The agent an SSH runner starts once per connection with the login node's python3 (3.6 or later,
standard library only): commands then cost a fork and exec instead of a login shell's start-up.

It is sent as the text of `python3 -I -c` and must stay self-contained. Commands run without a shell
(argv as given, so an argument is never code), with the agent's environment: the one the login gave
it (`env -0` of the login shell, in hex, as its one argument), as an exec channel's command would
see. Several run at once, each in its own process group.

Requests on stdin, one ASCII header line each, then the bytes its lengths announce:
    R <id> <timeout> <stdin length> <argc> <envc> <length of each arg, then each NAME=value>\\n
    F <id> <length>\\n<NUL-separated path, offset, limit triples>   read byte ranges here, no process
    K <id>\\n                                       kill that command (its caller gave up)
Answers on stdout, in the order commands end:
    jobdeck-agent 1\\n                              once, when ready
    X <id> <exit code> <stdout length> <stderr length>\\n<stdout><stderr>   (for F: the frames of
                                                 backends/runners/frames.py on stdout, exit code 0)
    T <id> <stdout length> <stderr length>\\n<stdout><stderr>    killed at its timeout
An exit code is negative for a command killed by a signal, as asyncssh reports it. Large payloads
travel zlib-compressed (output lists and path lists shrink ten to twenty times, and moving bytes
through sshd costs more than compressing them): a lower-case `r` request's stdin is compressed, and
a lower-case `x` or `t` answer carries one more count, the compressed length of <stdout><stderr>.
"""

import os
import signal
import subprocess
import sys
import tempfile
import threading
import zlib

READY = b"jobdeck-agent 1\n"
COMPRESS_FROM = 256 * 1024  # bytes of output from which an answer is compressed


def read_frames(requests):
    """The answer backends/runners/frames.py's script gives to the same (path, offset, limit)
    triples, read in this process: a log's tail costs no command. The local runner imports it."""
    fields = requests.split(b"\0")
    return b"".join(
        _frame(fields[k], int(fields[k + 1]), int(fields[k + 2])) for k in range(0, len(fields) - 2, 3)
    )


def _frame(path, offset, limit):
    """One file's frame: data, size and identity from one descriptor (never blocking on a FIFO)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return b"M %d\n" % len(path) + path
    except OSError as exc:
        return _error_frame(path, exc)
    try:
        measured = os.fstat(fd).st_size if offset < 0 else None
        start = offset if measured is None else max(0, measured + offset)  # from the end: stop at the size
        limit = limit if measured is None else max(0, min(limit, measured - start))
        chunks, got = [], 0
        while got < limit:
            chunk = os.pread(fd, limit - got, start + got)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        info = os.fstat(fd)
    except OSError as exc:
        return _error_frame(path, exc)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    size = info.st_size if measured is None else measured
    return b"F %d %d %d %d:%d\n" % (len(path), len(data), size, info.st_dev, info.st_ino) + path + data


def _error_frame(path, exc):
    message = (os.strerror(exc.errno) if exc.errno else str(exc)).encode()
    return b"E %d %d\n" % (len(path), len(message)) + path + message


def login_environment():
    pairs = bytes.fromhex(sys.argv[1]).split(b"\0") if len(sys.argv) > 1 and sys.argv[1] else []
    return dict(pair.split(b"=", 1) for pair in pairs if b"=" in pair) or dict(os.environb)


def scratch():
    """A file in memory (a temporary file where there is no memfd) for a command's output: read once
    when the command ends, it spares this process a wake-up for every 4 KiB the command writes."""
    if hasattr(os, "memfd_create"):
        return open(os.memfd_create("jobdeck-agent", os.MFD_CLOEXEC), "w+b")
    return tempfile.TemporaryFile()


def written(file):
    file.seek(0)
    return file.read()


def main():
    login = login_environment()
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    lock = threading.Lock()
    running = {}

    def answer(header, out, err):
        counts = b" %d %d" % (len(out), len(err))
        body = out + err
        if len(body) >= COMPRESS_FROM:
            body = zlib.compress(body, 1)
            header, counts = header[:1].lower() + header[1:], counts + b" %d" % len(body)
        with lock:
            answers.write(header + counts + b"\n" + body)
            answers.flush()

    def kill(process):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            pass

    def run(rid, timeout, argv, env, data):
        with scratch() as out, scratch() as err:
            try:
                process = subprocess.Popen(
                    argv,
                    stdin=subprocess.PIPE if data else subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    env=env,
                    start_new_session=True,
                )
            except OSError as exc:
                code = 127 if isinstance(exc, FileNotFoundError) else 126
                reason = b"command not found" if code == 127 else os.strerror(exc.errno or 13).encode()
                answer(b"X %s %d" % (rid, code), b"", argv[0] + b": " + reason + b"\n")
                return
            running[rid] = process
            try:
                process.communicate(data or None, timeout)
                header = b"X %s %d" % (rid, process.returncode)
            except subprocess.TimeoutExpired:
                kill(process)
                process.wait()
                header = b"T " + rid
            finally:
                running.pop(rid, None)
            answer(header, written(out), written(err))

    def read_files(rid, data):
        try:
            answer(b"X %s 0" % rid, read_frames(data), b"")
        except Exception as exc:  # a bad request: its caller gets the reason, the agent carries on
            answer(b"X %s 1" % rid, b"", ("agent: %s\n" % exc).encode())

    def exact(count):
        data = requests.read(count)
        if len(data) != count:
            raise EOFError("request cut short")
        return data

    answers.write(READY)
    answers.flush()
    try:
        while True:
            fields = requests.readline().split()
            if not fields:
                break
            if fields[0] == b"K":
                process = running.get(fields[1])
                if process is not None:
                    kill(process)
                continue
            if fields[0] == b"F":
                data = exact(int(fields[2]))
                threading.Thread(target=read_files, args=(fields[1], data), daemon=True).start()
                continue
            rid, timeout, size, argc = fields[1], float(fields[2]), int(fields[3]), int(fields[4])
            lengths = [int(n) for n in fields[6:]]
            words, start = [], 0
            body = exact(sum(lengths))
            for length in lengths:
                words.append(body[start : start + length])
                start += length
            env = dict(login)
            env.update(word.split(b"=", 1) for word in words[argc:])
            data = exact(size)
            if fields[0] == b"r":
                data = zlib.decompress(data)
            threading.Thread(target=run, args=(rid, timeout, words[:argc], env, data), daemon=True).start()
    finally:
        for process in list(running.values()):
            kill(process)


if __name__ == "__main__":
    main()
