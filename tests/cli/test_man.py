#!/usr/bin/python3
"""The man pages render and list exactly the options the tools accept.

The pages are rendered at build time by scdoc (the build fails on a syntax
error). Here, from the rendered roff:
- every page has NAME, SYNOPSIS, DESCRIPTION and SEE ALSO, and renders with
  man(1) without a warning when man is installed;
- tcptop-record(8): every option --help lists is in the page, and every
  option the page names (in bold) is accepted by the recorder;
- tcptop-analyze(1): every command of the usage has a section and every
  section a command; every option a command's --help lists is in its section
  (or in COMMON OPTIONS, for the commands whose help has that block), and
  every option in a section is accepted by that command. "Accepted" is asked
  of the program itself: `OPT --help --help` must not be an unknown option
(the second --help stops even an option that takes the first as its value).

Usage: test_man.py --recorder PATH --analyzer PATH --man-dir DIR
"""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import ttharness as h  # noqa: E402
from ttharness import check  # noqa: E402

OPT = re.compile(r"(?<![\w-])(--?[a-zA-Z][a-zA-Z-]*)")
BOLD_OPT = re.compile(r"\\fB(--?[a-zA-Z][a-zA-Z-]*)")


def sections(roff, macro):
    """{title: text} for .SH (macro 'SH') or .SS ('SS') headings."""
    out, cur = {}, None
    for line in roff.splitlines():
        m = re.match(r"\.(SH|SS) (.*)", line)
        if m and m.group(1) == macro:
            cur = m.group(2).strip().strip('"')
            out[cur] = ""
        elif m and macro == "SS" and m.group(1) == "SH":
            cur = None
        elif cur is not None:
            out[cur] += line + "\n"
    return out


def help_opts(text):
    return {o for o in OPT.findall(text) if o not in ("-", "--")}


def accepted(cmd, opt):
    # twice: an option with a value takes the first as its value
    p = subprocess.run(cmd + [opt, "--help", "--help"], capture_output=True, text=True,
                       timeout=30)
    return "unknown option" not in p.stderr and "unrecognized" not in p.stderr, p.stderr.strip()


def options(ap):
    ap.add_argument("--recorder", required=True)
    ap.add_argument("--analyzer", required=True)
    ap.add_argument("--man-dir", required=True)


def main(t):
    a = t.args
    pages = {}
    for name in ("tcptop-record.8", "tcptop-analyze.1", "tcptop-store.5"):
        path = os.path.join(a.man_dir, name)
        if not check(os.path.exists(path), "%s was not rendered" % path):
            continue
        pages[name] = open(path).read()
        sh = sections(pages[name], "SH")
        for s in ("NAME", "SYNOPSIS" if name[-1] != "5" else "DESCRIPTION", "DESCRIPTION",
                  "SEE ALSO"):
            check(s in sh, "%s: no %s section" % (name, s))
        if shutil.which("man"):
            p = subprocess.run(["man", "--warnings", "-l", path], capture_output=True, text=True,
                               env=dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING="0"))
            check(p.returncode == 0 and not p.stderr.strip(),
                  "%s: man -l: exit %d, %s" % (name, p.returncode, p.stderr.strip()))
    if "tcptop-record.8" not in pages or "tcptop-analyze.1" not in pages:
        return

    # tcptop-record
    page = pages["tcptop-record.8"]
    man = set(BOLD_OPT.findall(page))
    hlp = help_opts(subprocess.run([a.recorder, "--help"], capture_output=True,
                                   text=True).stdout)
    for o in sorted(hlp - man):
        check(False, "tcptop-record: --help lists %s, the man page does not" % o)
    for o in sorted(man):
        ok, err = accepted([a.recorder], o)
        check(ok, "tcptop-record(8) names %s, the recorder does not accept it: %s" % (o, err))
    print("tcptop-record: %d options in --help, %d in the man page" % (len(hlp), len(man)))

    # tcptop-analyze
    page = pages["tcptop-analyze.1"]
    usage = subprocess.run([a.analyzer, "--help"], capture_output=True, text=True).stdout
    cmds = re.findall(r"^  ([a-z]+) ", usage.split("Commands:")[1], re.M)
    ss = sections(page, "SS")  # only COMMANDS has subsections
    common = set(BOLD_OPT.findall(sections(page, "SH").get("COMMON OPTIONS", "")))
    check(common, "tcptop-analyze(1): no COMMON OPTIONS")
    for c in cmds:
        check(c in ss, "tcptop-analyze(1): no section for command %s" % c)
    for s in ss:
        check(s in cmds, "tcptop-analyze(1): section %s is not a command of the usage" % s)
    for c in cmds:
        if c not in ss or c == "help":
            continue
        h = subprocess.run([a.analyzer, c, "--help"], capture_output=True, text=True).stdout
        own = set(BOLD_OPT.findall(ss[c])) - {"-h", "--help"}
        avail = own | (common if "Window (" in h else set())
        for o in sorted(help_opts(h) - avail - {"-h", "--help"}):
            check(False, "tcptop-analyze %s: --help lists %s, its man section does not" % (c, o))
        for o in sorted(own | (common if "Window (" in h else set())):
            ok, err = accepted([a.analyzer, c], o)
            check(ok, "tcptop-analyze(1) gives %s %s, which does not accept it: %s" % (c, o, err))
        print("tcptop-analyze %s: %d options in --help, %d in the man page" %
              (c, len(help_opts(h)), len(avail)))


if __name__ == "__main__":
    h.run("man", main, options, root=False)
