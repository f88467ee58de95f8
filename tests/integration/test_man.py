"""The manuals: `make install DESTDIR=...` puts a page for every gt-*
program it installs under PREFIX/share/man/man1; each renders through
`man -l` and `groff -ww` without a warning; each page's OPTIONS name
every flag its tool's --help lists and no other, its EXIT STATUS every
status the help gives; gt-top's page describes every column of its two
tables (names as --sort takes them, titles as batch text prints them) and
every key of its help screen.  The tools themselves are the ground truth:
their --help, --sort's list, batch output and help screen."""
import os
import re
import shutil
import subprocess
import time

import pytest

import gtmake

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD = os.environ.get("GT_BUILD", os.path.join(ROOT, "build"))
FIXTURE = os.path.join(BUILD, "tests", "integration", "three_locations")
TOOLS = ["gt-stacks", "gt-waste", "gt-core", "gt-top", "gt-exporter"]
# Arguments that end a tool's run at once, after its flag is taken: a
# flag that completes a command line (gt-exporter --discover) would serve
# for ever, and an address that is none stops it before it listens.
RUN_ENDS = {"gt-exporter": ["--listen", "no-address"]}
SECTIONS = ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS",
            "EXAMPLES", "SEE ALSO")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """make install into a directory of its own: (prefix, man1 directory)."""
    dest = tmp_path_factory.mktemp("dest")
    p = gtmake.make("BUILD=" + BUILD, "DESTDIR=" + str(dest), "install")
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    bins = [os.path.join(d, f) for d, _, fs in os.walk(dest) for f in fs
            if os.path.basename(d) == "bin" and f == "gt-stacks"]
    assert len(bins) == 1, bins
    prefix = os.path.dirname(os.path.dirname(bins[0]))
    return prefix, os.path.join(prefix, "share", "man", "man1")


def render(page, width=80):
    """PAGE as man -l shows it at WIDTH columns, as plain text, and what
    man and groff said on stderr (groff's every warning on: -ww)."""
    env = dict(os.environ, MANWIDTH=str(width), MANPAGER="cat", PAGER="cat",
               LANG="C.UTF-8", LC_ALL="C.UTF-8")
    env.pop("MAN_KEEP_FORMATTING", None)
    p = subprocess.run(["man", "--warnings=w", "-l", page], capture_output=True,
                       text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    text = re.sub(".\b", "", p.stdout)
    # Whatever glyph the device gives a minus or a hyphen, read as '-'.
    for c in "\u2212\u2010\u2011":
        text = text.replace(c, "-")
    return text, p.stderr


def section(text, name):
    """The lines of section NAME of a rendered page (up to the next)."""
    lines = text.splitlines()
    start = lines.index(name) + 1
    end = next((i for i in range(start, len(lines))
                if lines[i] and not lines[i][0].isspace()), len(lines))
    return lines[start:end]


def tool_bin(prefix, tool):
    return os.path.join(prefix, "bin", tool)


def help_text(prefix, tool):
    p = subprocess.run([tool_bin(prefix, tool), "--help"], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout


FLAG = re.compile(r"(?<![\w-])(--?[A-Za-z?][\w-]*)")


def help_flags(help_out):
    """The flags a --help lists: on its option lines, before the
    description (argp's and gt-top's layout: an indented flag, its
    argument, two spaces or more, the text)."""
    flags = set()
    for line in help_out.splitlines():
        m = re.match(r"^ {1,8}(-\S.*?)(?: {2,}|$)", line)
        if m:
            flags.update(FLAG.findall(m.group(1)))
    return flags


def page_flags(options):
    """The flags an OPTIONS section describes: on its tag lines (the
    lines indented as a tag, not as the text under it)."""
    flags = set()
    for line in options:
        if re.match(r"^ {7}-", line):
            flags.update(FLAG.findall(line.split("  ")[0] if "  " in line.strip()
                                      else line))
    return flags


def test_install_puts_a_page_for_every_program(installed):
    prefix, man1 = installed
    programs = sorted(f for f in os.listdir(os.path.join(prefix, "bin"))
                      if f.startswith("gt-"))
    assert programs == sorted(TOOLS)
    assert sorted(os.listdir(man1)) == sorted(t + ".1" for t in TOOLS)
    for tool in TOOLS:
        page = os.path.join(man1, tool + ".1")
        assert os.stat(page).st_mode & 0o777 == 0o644
        src = os.path.join(ROOT, "viewer" if tool == "gt-top" else "tools", tool + ".1")
        with open(page) as a, open(src) as b:
            assert a.read() == b.read()


@pytest.mark.parametrize("tool", TOOLS)
def test_page_renders_without_warnings(installed, tool):
    page = os.path.join(installed[1], tool + ".1")
    for width in (80, 120):
        text, err = render(page, width)
        assert err == "", (width, err)
        for name in SECTIONS:
            assert name in text.splitlines(), name
    g = subprocess.run(["groff", "-ww", "-man", "-Tutf8", "-z", page],
                       capture_output=True, text=True, timeout=60)
    assert g.returncode == 0 and g.stderr == "", g.stderr
    # whatis(1) and apropos(1) read the NAME line.
    w = subprocess.run(["lexgrog", page], capture_output=True, text=True, timeout=60)
    assert w.returncode == 0
    assert re.match(r'^%s: "%s - \S' % (re.escape(page), tool), w.stdout), w.stdout


@pytest.mark.parametrize("tool", TOOLS)
def test_page_names_the_version(installed, tool):
    """The footer's source is gt's version, as --version prints it."""
    out = subprocess.run([tool_bin(installed[0], tool), "--version"],
                         capture_output=True, text=True, timeout=60).stdout
    version = out.splitlines()[0].rsplit(" ", 1)[1]
    with open(os.path.join(installed[1], tool + ".1")) as f:
        th = next(l for l in f if l.startswith(".TH "))
    assert '"gt %s"' % version in th, th


@pytest.mark.parametrize("tool", TOOLS)
def test_page_options_are_the_tools(installed, tool):
    prefix, man1 = installed
    helped = help_flags(help_text(prefix, tool))
    # argp lists -?, --help and --usage itself; -h is hidden there.
    assert {"-V", "--version", "--help"} <= helped, helped
    text, _ = render(os.path.join(man1, tool + ".1"))
    described = page_flags(section(text, "OPTIONS"))
    assert described - {"-h"} == helped - {"-h"}, (described ^ helped)
    assert "-h" in described
    # Every flag the page gives works: -h as the help, the others are
    # known (not "unrecognized" or "unknown option").
    for flag in sorted(described):
        p = subprocess.run([tool_bin(prefix, tool), flag] + RUN_ENDS.get(tool, []),
                           capture_output=True,
                           text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert not re.search(r"unrecognized|unknown option|invalid option",
                             p.stderr), (flag, p.stderr)


@pytest.mark.parametrize("tool", TOOLS)
def test_page_exit_status_is_the_tools(installed, tool):
    prefix, man1 = installed
    said = " ".join(help_text(prefix, tool).split())
    status = re.search(r"Exit status: (.*)$", said).group(1)
    helped = set(re.findall(r"(?:^|, )(\d+) ", status))
    text, _ = render(os.path.join(man1, tool + ".1"))
    described = {m.group(1) for line in section(text, "EXIT STATUS")
                 for m in [re.match(r"^ {7}(\d+) ", line)] if m}
    assert described == helped == {"0", "1", "2"}, (described, helped)


def sort_names(prefix, view):
    """The columns of VIEW, from --sort's message for a column it lacks."""
    p = subprocess.run([tool_bin(prefix, "gt-top"), "-b", "-p", "1", "--view", view,
                        "--sort", "no-such-column"], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 2
    return re.search(r"it has (.*)$", p.stderr.strip()).group(1).split(", ")


def page_columns(text, heading):
    """(title, name) of each column under HEADING in COLUMNS."""
    lines = section(text, "COLUMNS")
    start = lines.index("   " + heading) + 1
    end = next((i for i in range(start, len(lines)) if re.match(r"^ {3}\S", lines[i])),
               len(lines))
    return [(m.group(1), m.group(2)) for line in lines[start:end]
            for m in [re.match(r"^ {7}(\S.*?) \((\w+)\)$", line)] if m]


@pytest.fixture(scope="module")
def target():
    p = subprocess.Popen([FIXTURE, "2", "2", "2"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().startswith("ready ")
    yield p
    p.stdin.close()
    p.wait(timeout=30)
    p.stdout.close()


@pytest.mark.parametrize("view,heading", [("locations", "Locations view"),
                                          ("threads", "Threads view")])
def test_gt_top_page_has_every_column(installed, target, view, heading):
    prefix, man1 = installed
    text, _ = render(os.path.join(man1, "gt-top.1"))
    columns = page_columns(text, heading)
    assert [n for _, n in columns] == sort_names(prefix, view)
    out = subprocess.run([tool_bin(prefix, "gt-top"), "-b", "-d", "0.05", "--view", view,
                          str(target.pid)], capture_output=True, text=True,
                         timeout=60).stdout
    header = next(l for l in out.splitlines() if "LOCATION" in l and "  " in l.strip())
    for title, name in columns:
        assert re.search(r"(^| )%s( |$)" % re.escape(title), header), (title, header)


def help_screen(prefix, pid):
    """gt-top's help screen (h), on a terminal tall enough to hold it
    whole: its lines."""
    session = "gt-man-%d" % os.getpid()

    def tmux(*args):
        return subprocess.run(["tmux", "-L", session] + list(args), capture_output=True,
                              text=True, timeout=10)
    tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "200",
         "%s %d; sleep 30" % (tool_bin(prefix, "gt-top"), pid))
    try:
        screen = ""
        for _ in range(100):
            screen = tmux("capture-pane", "-p", "-t", session).stdout
            if "gt-top - process %d" % pid in screen:
                break
            time.sleep(0.1)
        tmux("send-keys", "-t", session, "h")
        for _ in range(100):
            screen = tmux("capture-pane", "-p", "-t", session).stdout
            if "gt-top keys" in screen:
                break
            time.sleep(0.1)
        assert "gt-top keys" in screen, screen
    finally:
        tmux("kill-server")
    return screen.splitlines()


def help_keys(lines):
    """The keys the help lists: the first word group of each line of its
    key block (from its first blank line to the next)."""
    first = lines.index("")
    block = lines[first + 1:lines.index("", first + 1)]
    keys = set()
    for line in block:
        m = re.match(r"^  (\S.*?)(?: {2,}|$)", line)
        if m and not line.startswith("    "):
            keys.update(k for k in re.split(r"[ ,]+", m.group(1)) if k)
    return keys


def help_legend(lines):
    """The column titles the help's legend explains, by view: the lines
    "  TITLE   description" under "Locations view:", "Threads view:"..."""
    legend, view = {}, None
    for line in lines:
        m = re.match(r"^(\w+) view:", line)
        if m:
            view = m.group(1)
            legend[view] = []
        elif not line.strip():
            view = None
        elif view:
            t = re.match(r"^  (\S(?:\S| \S)*) {2,}\S", line)
            if t:
                legend[view].append(t.group(1))
    return legend


def page_tags(section_lines):
    """The tags of a rendered section's tagged paragraphs: TITLE of
    "TITLE (name)", or of "TITLE  text" when the tag shares its line."""
    tags = set()
    for line in section_lines:
        m = re.match(r"^ {7}(\S(?:\S| [^\s(])*)(?: \(\w+\))?(?: {2,}|$)", line)
        if m:
            tags.add(m.group(1))
    return tags


@pytest.fixture(scope="module")
def help_lines(installed, target):
    return help_screen(installed[0], target.pid)


def test_gt_top_page_has_every_key(installed, help_lines):
    prefix, man1 = installed
    keys = help_keys(help_lines)
    assert {"h", "Enter", "Tab", "1"} <= keys, keys
    text, _ = render(os.path.join(man1, "gt-top.1"))
    tags = set()
    for tag in page_tags(section(text, "INTERACTIVE COMMANDS")):
        tags.update(k for k in re.split(r",? +", tag.rstrip(",")) if k)
    assert keys <= tags, keys - tags


def test_gt_top_page_explains_what_the_help_does(installed, help_lines):
    """Every column the help's legend explains, in every view, has its
    entry in the page's COLUMNS."""
    legend = help_legend(help_lines)
    assert set(legend) == {"Locations", "Threads", "Stacks", "Graph"}, legend
    assert all(legend.values()), legend
    text, _ = render(os.path.join(installed[1], "gt-top.1"))
    described = page_tags(section(text, "COLUMNS"))
    for view, titles in legend.items():
        assert set(titles) <= described, (view, set(titles) - described)


def test_no_help_points_to_a_missing_manual(installed):
    prefix, man1 = installed
    for tool in TOOLS:
        out = help_text(prefix, tool)
        assert "see the manual" not in out
        for name, sect in re.findall(r"\b(gt-[a-z]+)\((\d)\)", out):
            assert os.path.exists(os.path.join(prefix, "share", "man", "man" + sect,
                                               name + "." + sect)), (tool, name)
