#!/usr/bin/python3
"""bash and zsh completion: they load, and offer what the programs accept.

bash (compgen through the completion functions, COMP_WORDS as bash sets them):
- tcptop-analyze: the commands (the usage's list, exactly), each command's
  options (its option table, exactly), values of --by, --group-by (after a
  comma too), --format (per command), --type, --proto; nothing for a time;
  directories, not files, where a store goes; `help` completes commands.
- tcptop-record: its options (exactly those --help lists), values of
  --format, --sort, --proto.
zsh: the file is a #compdef for both programs that compinit registers; its
command list is the usage's, and the _arguments specs it builds for each
command carry exactly the command's options.

Usage: test_completion.py --recorder PATH --analyzer PATH --dir COMPLETION_DIR
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import ttharness as h  # noqa: E402
from ttharness import check  # noqa: E402

OPT = re.compile(r"(?<![\w-])(--?[a-zA-Z][a-zA-Z-]*)")


def bash_complete(script, words, cwd=None):
    """COMPREPLY for a command line whose last word is being completed."""
    fn = "_tcptop_analyze" if "analyze" in os.path.basename(words[0]) else "_tcptop_record"
    arr = " ".join("'%s'" % w.replace("'", "'\\''") for w in words)
    prog = "source '%s'\nCOMP_WORDS=(%s)\nCOMP_CWORD=%d\n%s\nprintf '%%s\\n' \"${COMPREPLY[@]}\"\n" % (
        script, arr, len(words) - 1, fn)
    p = subprocess.run(["bash", "--norc", "--noprofile", "-c", prog], capture_output=True,
                       text=True, cwd=cwd, timeout=30)
    check(p.returncode == 0, "bash %r: exit %d %s" % (words, p.returncode, p.stderr))
    return set(filter(None, p.stdout.split("\n")))


def options(ap):
    ap.add_argument("--recorder", required=True)
    ap.add_argument("--analyzer", required=True)
    ap.add_argument("--dir", required=True)


def main(t):
    a = t.args
    an, rec = os.path.abspath(a.analyzer), os.path.abspath(a.recorder)
    a.dir = os.path.abspath(a.dir)
    bash_an = os.path.join(a.dir, "tcptop-analyze.bash")
    bash_rec = os.path.join(a.dir, "tcptop-record.bash")
    zfile = os.path.join(a.dir, "_tcptop")

    usage = subprocess.run([an, "--help"], capture_output=True, text=True).stdout
    cmds = set(re.findall(r"^  ([a-z]+) ", usage.split("Commands:")[1], re.M))
    table = {}
    for c in cmds - {"help"}:
        out = subprocess.run([an, "help", "--options", c], capture_output=True, text=True).stdout
        table[c] = {o.rstrip("=") for o in out.split()}

    # bash, tcptop-analyze
    got = bash_complete(bash_an, [an, ""])
    check(got == cmds | {"--help", "--version"}, "commands: %r, want %r" % (got, cmds))
    check(bash_complete(bash_an, [an, "t"]) == {"top", "timeline"}, "'t': top timeline")
    check(bash_complete(bash_an, [an, "help", "ev"]) == {"events"}, "help ev: events")
    for c, opts in sorted(table.items()):
        got = bash_complete(bash_an, [an, c, "-"])
        check(got == opts, "%s -: %r, want the table %r" % (c, sorted(got), sorted(opts)))
    for words, want in (
            (["top", "--by", "r"], {"rate", "retrans", "rtt", "rx"}),
            (["top", "--group-by", "process,rem"],
             {"process,remote-host", "process,remote-net/", "process,remote-port"}),
            (["events", "--type", "re"], {"reset", "retransmit"}),
            (["info", "--format", ""], {"text", "json"}),
            (["top", "--format", ""], {"table", "csv", "json"}),
            (["sql", "--format", "c"], {"csv"}),
            (["events", "--proto", "u"], {"udp"}),
            (["replay", "--sort", "r"], {"rate", "retrans", "rtt"}),
            (["top", "--last", ""], set()),
            (["top", "--from", "1"], set())):
        got = bash_complete(bash_an, [an] + words)
        check(got == want, "%r: %r, want %r" % (words, sorted(got), sorted(want)))
    with tempfile.TemporaryDirectory(prefix="tt-compl.") as tmp:
        os.mkdir(os.path.join(tmp, "store1"))
        os.mkdir(os.path.join(tmp, "stash"))
        open(os.path.join(tmp, "notes.txt"), "w").close()
        got = bash_complete(bash_an, [an, "top", "--last", "5m", "st"], cwd=tmp)
        check(got == {"store1", "stash"}, "store directories: %r" % got)
        got = bash_complete(bash_an, [an, "info", ""], cwd=tmp)
        check("store1" in got and "notes.txt" not in got, "directories, not files: %r" % got)

    # bash, tcptop-record
    hlp = subprocess.run([rec, "--help"], capture_output=True, text=True).stdout
    ropts = set(OPT.findall(hlp))
    got = bash_complete(bash_rec, [rec, "-"])
    check(got == ropts, "tcptop-record -: extra %r, missing %r" %
          (sorted(got - ropts), sorted(ropts - got)))
    for words, want in ((["--re"], {"--retain-age", "--retain-size"}),
                        (["--format", ""], {"text", "json", "none"}),
                        (["-s", "r"], {"rate", "retrans", "rtt"}),
                        (["--proto", ""], {"tcp", "udp"}),
                        (["--interval", ""], set())):
        got = bash_complete(bash_rec, [rec] + words)
        check(got == want, "tcptop-record %r: %r, want %r" % (words, sorted(got), sorted(want)))

    # zsh
    if shutil.which("zsh"):
        with tempfile.TemporaryDirectory(prefix="tt-zsh.") as tmp:
            script = r'''
fpath=(%(dir)s $fpath)
autoload -Uz compinit && compinit -u -d %(tmp)s/zcompdump
print -r -- "comps: ${_comps[tcptop-record]} ${_comps[tcptop-analyze]}"
source %(file)s
print -r -- "commands: ${(j: :)${(@)_tcptop_analyze_commands%%%%:*}}"
_tcptop_analyze_prog=%(an)s
for c in %(cmds)s; do
	print -r -- "specs $c: ${(j: :)${(@)${(@f)"$(_tcptop_analyze_specs $c)"}%%%%\[*}}"
done
print -r -- "by: $(_tcptop_analyze_values --by top)"
''' % {"dir": a.dir, "tmp": tmp, "file": zfile, "an": an, "cmds": " ".join(sorted(table))}
            p = subprocess.run(["zsh", "-f", "-c", script], capture_output=True, text=True,
                               timeout=60)
            out = p.stdout
            check(p.returncode == 0 and not p.stderr.strip(),
                  "zsh: exit %d, stderr %r" % (p.returncode, p.stderr))
            check("comps: _tcptop _tcptop" in out, "zsh: compinit registers _tcptop: %r" % out)
            m = re.search(r"^commands: (.*)$", out, re.M)
            check(m and set(m.group(1).split()) == cmds, "zsh commands: %r" % out)
            for c, opts in table.items():
                m = re.search(r"^specs %s: (.*)$" % c, out, re.M)
                got = set(m.group(1).split()) if m else set()
                check(got == opts, "zsh %s: %r, want %r" % (c, sorted(got), sorted(opts)))
            check("by: (bytes tx rx rate packets rtt retrans duration conns)" in out,
                  "zsh --by values: %r" % out)
    else:
        print("(no zsh: its part is not run)")


if __name__ == "__main__":
    h.run("completion", main, options, root=False)
