"""The agent an SSH runner starts once per connection with the login node's python3 (3.6 or later,
standard library only): commands then cost a fork and exec instead of a login shell's start-up.

It is sent as the text of `python3 -I -c` and must stay self-contained. Commands run without a shell
(argv as given, so an argument is never code), with the agent's environment: the one the login gave
it (`env -0` of the login shell, in hex, as its one argument), as an exec channel's command would
see. Several run at once, each in its own process group.

Requests on stdin, one ASCII header line each, then the bytes its lengths announce:
    R <id> <timeout> <stdin length> <argc> <envc> <length of each arg, then each NAME=value>\\n
    K <id>\\n                                       kill that command (its caller gave up)
Answers on stdout, in the order commands end:
    jobdeck-agent 1\\n                              once, when ready
    X <id> <exit code> <stdout length> <stderr length>\\n<stdout><stderr>
    T <id> <stdout length> <stderr length>\\n<stdout><stderr>    killed at its timeout
An exit code is negative for a command killed by a signal, as asyncssh reports it.
"""

import os
import signal
import subprocess
import sys
import threading

READY = b"jobdeck-agent 1\n"


def login_environment():
    pairs = bytes.fromhex(sys.argv[1]).split(b"\0") if len(sys.argv) > 1 and sys.argv[1] else []
    return dict(pair.split(b"=", 1) for pair in pairs if b"=" in pair) or dict(os.environb)


def main():
    login = login_environment()
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    lock = threading.Lock()
    running = {}

    def answer(header, out, err):
        with lock:
            answers.write(header + b" %d %d\n" % (len(out), len(err)) + out + err)
            answers.flush()

    def kill(process):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            pass

    def run(rid, timeout, argv, env, data):
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE if data else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
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
            out, err = process.communicate(data or None, timeout)
        except subprocess.TimeoutExpired:
            kill(process)
            out, err = process.communicate()
            answer(b"T " + rid, out, err)
            return
        finally:
            running.pop(rid, None)
        answer(b"X %s %d" % (rid, process.returncode), out, err)

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
            threading.Thread(target=run, args=(rid, timeout, words[:argc], env, data), daemon=True).start()
    finally:
        for process in list(running.values()):
            kill(process)


if __name__ == "__main__":
    main()
