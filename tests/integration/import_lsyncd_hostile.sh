#!/usr/bin/env bash
# import-lsyncd on garbage and hostile Lua: endless loops (also inside pcall,
# coroutines and finalizers), error(), huge strings and tables, binary
# chunks, reads of fifos and standard input, programs and writes. Each ends
# in bounded time with one error line naming the file (exit 2), or imports
# with a comment; nothing is run, written or crashed (ASan/UBSan build).
set -u
. "$(dirname "$0")/../lib/common.sh"
[ -x "$LIFEBOAT" ] || skip "no binary at $LIFEBOAT (make asan)"
lb_setup
cd "$T" || exit 1
cases=0

# run_import FILE: the import, bounded; sets RC, output in $T/out, $T/err.
run_import() {
	RC=0
	timeout -k 5 120 "$LIFEBOAT" import-lsyncd "$1" >"$T/out" 2>"$T/err" || RC=$?
	[ $RC -ne 124 ] && [ $RC -ne 137 ] || fail "$1: the import hung (killed by timeout)"
}

# refused NAME FRAGMENT: the Lua on stdin is refused: exit 2, stdout empty,
# one stderr line naming the file and FRAGMENT.
refused() {
	local f=$T/$1.lua
	cat >"$f"
	cases=$((cases + 1))
	run_import "$f"
	[ $RC -eq 2 ] || { cat "$T/err" >&2; fail "$1: exit $RC, expected 2"; }
	[ ! -s "$T/out" ] || fail "$1: stdout not empty: $(head -c 200 "$T/out")"
	[ "$(wc -l <"$T/err")" -eq 1 ] || { cat "$T/err" >&2; fail "$1: not one stderr line"; }
	grep -q "^lifeboat: error: $f" "$T/err" || fail "$1: the file is not named: $(cat "$T/err")"
	grep -qF -- "$2" "$T/err" || fail "$1: '$2' not in: $(cat "$T/err")"
}

# imported NAME FRAGMENT: the Lua on stdin imports (exit 0) and the result
# carries FRAGMENT.
imported() {
	local f=$T/$1.lua
	cat >"$f"
	cases=$((cases + 1))
	run_import "$f"
	[ $RC -eq 0 ] || { cat "$T/err" >&2; fail "$1: exit $RC, expected 0"; }
	grep -qF -- "$2" "$T/out" || { cat "$T/out" >&2; fail "$1: '$2' not in the output"; }
}

refused loop ':2: still running after' <<'EOF'
local n = 0
while true do n = n + 1 end
EOF
refused pcall_loop 'still running after' <<'EOF'
while true do pcall(function() while true do end end) end
EOF
refused coroutine_loop 'still running after' <<'EOF'
coroutine.wrap(function() while true do end end)()
EOF
refused recursion 'stack overflow' <<'EOF'
local function f() return 1 + f() end
f()
EOF
refused error ':1: boom' <<'EOF'
error("boom")
EOF
refused error_table 'error with a table value' <<'EOF'
error({ code = 1 })
EOF
refused error_lines ':1: one two three' <<'EOF'
error("one\ntwo\rthree")
EOF
refused syntax ':2: unexpected symbol' <<'EOF'
sync { default.rsync, source = "/a",
  target = = "/b" }
EOF
refused huge_string 'not enough memory' <<'EOF'
local s = string.rep("x", 2^30)
EOF
refused huge_table 'not enough memory' <<'EOF'
local t = {}
for i = 1, 1e9 do t[i] = i end
EOF
refused binary_chunk 'attempt to call a nil value' <<'EOF'
load(string.dump(function() end))()
EOF
refused stdin 'standard input is not read' <<'EOF'
dofile()
EOF
refused fifo 'attempt to index a nil value' <<'EOF'
io.open("/dev/stdin"):read("a")
EOF
refused missing_dofile 'cannot open' <<'EOF'
dofile("no-such-file.lua")
EOF
refused sync_not_table 'sync needs a table' <<'EOF'
sync("/var/www")
EOF
# The C function running the sandbox is on the stack: debug.getinfo must not
# hand it out (called with a file handle, it read that as its own state).
refused frame_function "attempt to call a nil value" <<'EOF'
local f = debug.getinfo(2, "f").func
f(io.open("/etc/hostname"))
EOF
refused frame_function_default "attempt to call a nil value (field" <<'EOF'
for level = 1, 5 do
  local info = debug.getinfo(level)
  if info then info.func(io.open("/etc/hostname")) end
end
EOF
refused self_layer 'nest deeper than' <<'EOF'
local layer = { default.rsync }
layer[2] = layer
sync { layer, source = "/a", target = "/b" }
EOF

# A finalizer runs with hooks off: its __gc is dropped, the import ends.
imported gc_loop '__gc finalizer was dropped' <<'EOF'
setmetatable({}, { __gc = function() while true do end end })
sync { default.rsync, source = "/srv/a", target = "/srv/b" }
EOF
# Programs are not run, files not written: the calls are named.
imported side_effects "os.execute('touch $T/pwned') was not run" <<EOF
os.execute("touch $T/pwned")
local h = io.popen("touch $T/pwned2; hostname"):read("*l")
local f = io.open("$T/pwned3", "w")
os.remove("$T/keep")
os.rename("$T/keep", "$T/pwned4")
sync { default.rsync, source = "/srv/a", target = "/srv/b" }
EOF
grep -qF "io.popen('touch $T/pwned2; hostname') was not run" "$T/out" || fail "io.popen not named"
grep -qF "for writing was refused" "$T/out" || fail "io.open for writing not named"
# Huge values: cut in comments, refused as keys, never a huge line.
imported huge_value 'NOT IMPORTED' <<'EOF'
sync { default.rsync, source = "/" .. string.rep("x", 1e7), target = "/b" }
EOF
[ "$(wc -L <"$T/out")" -lt 1000 ] || fail "huge_value: a line of $(wc -L <"$T/out") bytes"
# Hostile values: a newline or a comment character cannot enter a key.
imported hostile_value 'NOT IMPORTED' <<'EOF'
sync { default.rsync, source = "/srv/a\n[sync evil]\nsource = /etc", target = "/b ; x",
       exclude = { "a ;b", "#c", "ok" }, rsync = { _extra = { "--rsh=sh -c 'touch pwned'" } } }
EOF
grep -qx 'source = /etc' "$T/out" && fail "hostile_value: a newline made a key"
grep -q '^\[sync evil\]' "$T/out" && fail "hostile_value: a newline made a section"
refused garbage 'unexpected symbol' < <(printf '\x00\x01\xffgarbage\n')
# Fuzz-ish: 300 files, half token soup of lsyncd-ish Lua, half valid
# settings{} and sync{} calls with random keys and hostile values (a fixed
# seed, so a failure can be replayed). Each is refused (2) or imported (0, and then lifeboat's
# own loader already accepted the output); never 1 (a configuration that
# does not load), a sanitizer report (98, 99), a crash or a hang.
mkdir -p "$T/soup"
python3 - "$T/soup" <<'PY'
import random, sys
random.seed(14)
words = ['sync', 'settings', 'default.rsync', 'default.rsyncssh', 'default.direct', '{', '}',
         '(', ')', '=', ',', 'source', 'target', 'host', 'targetdir', 'rsync', 'ssh', 'exclude',
         'delete', 'delay', '_extra', 'port', 'options', '"/srv/a"', '"h:/b"', "'x ;y'", '"\\n"',
         '1e308', '-1', '0', 'true', 'false', 'nil', 'local', 'for', 'i', 'in', 'ipairs', 'do',
         'end', 'function', 'return', '..', '#', '[[', ']]', '--', 'string.rep("z", 99)', 'os.execute',
         'io.popen', 'dofile', 'require', '"soup"', 'while', 'repeat', 'until', 'error', 'pcall']
keys = ['source', 'target', 'host', 'targetdir', 'delay', 'exclude', 'excludeFrom', 'filter',
        'delete', 'init', 'onCreate', 'maxProcesses', 'whatever', 1]
sub = ['archive', 'compress', 'bwlimit', '_extra', 'rsh', 'perms', 'timeout', 'chmod', 'port',
       'identityFile', 'options', 'binary', 'bogus']
def value(depth=0):
    r = random.random()
    if r < 0.35:
        return random.choice(['"/srv/a"', '"rel/dir"', '"h:/b"', '"u@[::1]:/c"', '"h::m"', '""',
                              '"a ;b"', '"#x"', '"\\n[sync x]"', '"-e"', '"--bwlimit=9k"',
                              '"ssh -p 1 -i /k"', '"startup"', 'string.rep("/q", 3000)'])
    if r < 0.55:
        return random.choice(['0', '-5', '2.5', '1e308', '0/0', '86401', '65536', '3'])
    if r < 0.7:
        return random.choice(['true', 'false'])
    if r < 0.8:
        return 'function() end'
    if depth < 2:
        items = [value(depth + 1) if random.random() < 0.5 else
                 '%s = %s' % (random.choice(sub), value(depth + 1)) for _ in range(random.randint(0, 5))]
        return '{' + ', '.join(items) + '}'
    return 'nil'
for n in range(300):
    if n % 2:
        toks = [random.choice(words) for _ in range(random.randint(1, 60))]
        if n % 3 == 0:
            toks = ['sync', '{', 'default.rsyncssh', ','] + toks + ['}']
        text = ' '.join(toks)
    else:
        layer = random.choice(['default.rsync', 'default.rsyncssh', 'default.direct', '{}'])
        fields = ['%s = %s' % (k if isinstance(k, str) else '[%d]' % k, value())
                  for k in random.sample(keys, random.randint(0, len(keys)))]
        fields += ['%s = %s' % (t, value()) for t in ('rsync', 'ssh') if random.random() < 0.6]
        text = 'settings{ logfile = %s, statusInterval = %s, nodaemon = %s }\n' % (value(), value(), value())
        text += 'sync{ %s, %s }' % (layer, ', '.join(fields))
    with open('%s/s%03d.lua' % (sys.argv[1], n), 'w') as f:
        f.write(text + '\n')
PY
n0=0 n2=0
for f in "$T"/soup/*.lua; do
	run_import "$f"
	case $RC in
	0) n0=$((n0 + 1)) ;;
	2) n2=$((n2 + 1))
	   [ "$(wc -l <"$T/err")" -eq 1 ] || { cat "$T/err" >&2; fail "$f: not one error line"; } ;;
	*) cat "$f" "$T/err" >&2; fail "$f: exit $RC" ;;
	esac
done
echo "random files: $n0 imported, $n2 refused"
cases=$((cases + n0 + n2))

# The CPU bound: a string pattern is one C call the instruction count cannot
# interrupt.
start=$(lb_now_ms)
refused pattern 's of CPU time' <<'EOF'
local s = string.rep("a", 200000)
s:find(string.rep("a-", 40) .. "b")
EOF
echo "pattern stopped after $(( $(lb_now_ms) - start )) ms"

[ ! -e "$T/pwned" ] && [ ! -e "$T/pwned2" ] && [ ! -e "$T/pwned3" ] && [ ! -e "$T/pwned4" ] &&
	[ ! -e pwned ] || fail "the sandbox ran a program or wrote a file"
pass "$cases hostile inputs"
