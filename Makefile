# lifeboat — build, test, demo.  `make check` and `make demo` install what is
# missing first (scripts/install-deps.sh), so both work on a fresh Debian 12.

PREFIX  ?= /usr/local
DESTDIR ?=
# /etc for a system install (PREFIX /usr or /usr/local: logrotate and
# systemd read /etc); under any other prefix, its own etc/, so
# `make install PREFIX=$$HOME/x` writes nothing outside that prefix.
SYSCONFDIR  ?= $(if $(filter /usr /usr/local,$(PREFIX)),/etc,$(PREFIX)/etc)
# The binary installed: a test fixture installs the sanitizer build.
INSTALL_BIN ?= lifeboat
UNITDIR     ?= $(PREFIX)/lib/systemd/system
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
CC      ?= cc
CFLAGS  ?= -O2 -g
WARN     = -Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes -Wmissing-prototypes -Werror=implicit-function-declaration
CPPFLAGS += -D_GNU_SOURCE -std=gnu11 -Isrc $(shell pkg-config --cflags libmariadb json-c lua5.3 libcurl 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs libmariadb json-c lua5.3 libcurl 2>/dev/null || echo -lmariadb -ljson-c -llua5.3 -lcurl) -lm

SRC      = $(filter-out src/main.c,$(wildcard src/*.c src/*/*.c))
HDR      = $(wildcard src/*.h src/*/*.h)
UNIT_SRC = $(wildcard tests/unit/test_*.c)

BUILD     = build
ASAN      = build/asan
SANFLAGS  = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

OBJ       = $(SRC:%.c=$(BUILD)/%.o)
ASAN_OBJ  = $(SRC:%.c=$(ASAN)/%.o)
UNIT_BIN  = $(UNIT_SRC:tests/unit/%.c=$(ASAN)/tests/%)

.PHONY: all deps check unit integration demo demo-failover demo-sync bench install clean fuzz asan deb

all: lifeboat

lifeboat: $(BUILD)/lifeboat
	cp $< $@

$(BUILD)/lifeboat: $(OBJ) $(BUILD)/src/main.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c $(HDR)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -c -o $@ $<

# Sanitizer build: the binary the integration tests run, and the unit tests.
asan: $(ASAN)/lifeboat $(UNIT_BIN)

$(ASAN)/lifeboat: $(ASAN_OBJ) $(ASAN)/src/main.o
	$(CC) $(CFLAGS) $(SANFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(ASAN)/%.o: %.c $(HDR)
	@mkdir -p $(dir $@)
	@echo "  CC/SAN  $<"
	@$(CC) $(CPPFLAGS) $(CFLAGS) $(SANFLAGS) $(WARN) -c -o $@ $<

$(ASAN)/tests/%: tests/unit/%.c $(ASAN_OBJ) $(HDR)
	@mkdir -p $(dir $@)
	@echo "  TEST    $<"
	@$(CC) $(CPPFLAGS) $(CFLAGS) $(SANFLAGS) $(WARN) -o $@ $< $(ASAN_OBJ) $(LDLIBS) -lcmocka

deps:
	@scripts/install-deps.sh

check: deps
	$(MAKE) all asan
	@tests/run.sh

unit: asan
	@tests/run.sh unit

integration: asan
	@tests/run.sh integration

# The whole story: live replication of files and data, a disaster, the
# failover, RTO and RPO.  demo-sync shows the file replication alone, in
# more detail (renames, an outage of the DR server).
demo: deps
	$(MAKE) all
	@scripts/demo-failover.sh

demo-failover: demo

demo-sync: deps
	$(MAKE) all
	@scripts/demo-sync.sh

bench: all
	@bench/run.sh

fuzz:
	$(MAKE) -C tests/fuzz

install: $(INSTALL_BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/share/man/man5
	install -m 0755 $(INSTALL_BIN) $(DESTDIR)$(PREFIX)/bin/lifeboat
	for m in docs/man/*.8; do [ -f "$$m" ] && install -m 0644 "$$m" $(DESTDIR)$(PREFIX)/share/man/man8/ || true; done
	for m in docs/man/*.5; do [ -f "$$m" ] && install -m 0644 "$$m" $(DESTDIR)$(PREFIX)/share/man/man5/ || true; done
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(SYSCONFDIR)/logrotate.d $(DESTDIR)$(PREFIX)/share/doc/lifeboat/examples
	for u in contrib/systemd/*.service; do sed 's|/usr/local/bin/lifeboat|$(PREFIX)/bin/lifeboat|' "$$u" >$(DESTDIR)$(UNITDIR)/$${u##*/} && chmod 0644 $(DESTDIR)$(UNITDIR)/$${u##*/} || exit 1; done
	install -m 0644 contrib/bash-completion/lifeboat $(DESTDIR)$(BASHCOMPDIR)/lifeboat
	sed 's|/usr/local/bin/lifeboat|$(PREFIX)/bin/lifeboat|' contrib/logrotate/lifeboat >$(DESTDIR)$(SYSCONFDIR)/logrotate.d/lifeboat && chmod 0644 $(DESTDIR)$(SYSCONFDIR)/logrotate.d/lifeboat
	install -m 0644 contrib/lifeboat.conf.example contrib/lifeboat-local.conf.example $(DESTDIR)$(PREFIX)/share/doc/lifeboat/examples/
	install -m 0644 contrib/prometheus/lifeboat.rules.yml $(DESTDIR)$(PREFIX)/share/doc/lifeboat/examples/

# lifeboat_VERSION_ARCH.deb, built by dpkg-buildpackage from debian/ in a
# copy of the tree (build/deb), checked by lintian.
deb:
	@scripts/build-deb.sh

clean:
	rm -rf $(BUILD) lifeboat lifeboat_*.deb
