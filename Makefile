# SerialBridge: build, install and package (docs/INSTALL.md).
#
#   make build                      release binaries (static Swift standard library)
#   make install                    into PREFIX (/usr/local), units and udev rule included
#   make install DESTDIR=/tmp/root  staged install (packaging, tests)
#   make uninstall
#   make deb                        build/serialbridge_VERSION_ARCH.deb (PREFIX=/usr)
#
# BIN_DIR is where the binaries are taken from: the release build by default; the tests install
# the debug build (`make install DESTDIR=... BIN_DIR=.build/debug`) so that CI never builds release.

PREFIX       ?= /usr/local
BINDIR       ?= $(PREFIX)/bin
UNITDIR      ?= $(PREFIX)/lib/systemd/system
UDEVRULESDIR ?= $(PREFIX)/lib/udev/rules.d
DATADIR      ?= $(PREFIX)/share/serialbridge
PROFILEDIR   ?= $(DATADIR)/profiles
DOCDIR       ?= $(PREFIX)/share/doc/serialbridge
# Not configurable: the units' ConfigurationDirectory= and LoadCredential= paths are under /etc.
SYSCONFDIR   := /etc
BIN_DIR      ?= .build/release
DESTDIR      ?=

VERSION      ?= 0.1.0
DEB_ARCH     ?= $(shell dpkg --print-architecture 2>/dev/null)
DEB_BUILD    ?= build/deb
# dpkg-deb compression: xz for releases; the tests use none (debug binaries are large).
DEB_COMPRESSION ?= xz

BINARIES := serialbridge serialbridge-server
UNITS    := serialbridge.service serialbridge-server.service \
            serialbridge-server-credentials.path serialbridge-server-credentials.service
RULES    := 99-serialbridge.rules
PROFILES := $(wildcard DeviceProfiles/*.json)
DOCS     := README.md $(wildcard docs/*.md)

INSTALL  ?= install
# The units and the example config name /usr/local paths; any other PREFIX is written into them.
REPREFIX := sed -e 's|/usr/local/|$(PREFIX)/|g'

.PHONY: all build install install-files install-config post-install uninstall deb clean-deb check-binaries

all: build

build:
	@if [ -x scripts/build-release.sh ]; then \
		scripts/build-release.sh; \
	else \
		swift build -c release --static-swift-stdlib --product serialbridge && \
		swift build -c release --static-swift-stdlib --product serialbridge-server; \
	fi

check-binaries:
	@for binary in $(BINARIES); do \
		if [ ! -x "$(BIN_DIR)/$$binary" ]; then \
			echo "error: $(BIN_DIR)/$$binary is missing: run 'make build' first, or set BIN_DIR" >&2; \
			exit 1; \
		fi; \
	done

install: install-files install-config post-install

# Everything but the config in /etc, which is never overwritten (see install-config).
# /etc/serialbridge must stay readable by the gateway's dynamic user; /etc/serialbridge-server holds
# only root's 0600 files, which systemd reads for the server (LoadCredential=).
install-files: check-binaries
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(UDEVRULESDIR) \
		$(DESTDIR)$(PROFILEDIR) $(DESTDIR)$(DOCDIR) $(DESTDIR)$(DATADIR)
	$(INSTALL) -m 0755 $(addprefix $(BIN_DIR)/,$(BINARIES)) $(DESTDIR)$(BINDIR)/
	for unit in $(UNITS); do \
		$(REPREFIX) systemd/$$unit > $(DESTDIR)$(UNITDIR)/$$unit.tmp && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$unit.tmp && \
		mv $(DESTDIR)$(UNITDIR)/$$unit.tmp $(DESTDIR)$(UNITDIR)/$$unit || exit 1; \
	done
	$(INSTALL) -m 0644 $(addprefix systemd/,$(RULES)) $(DESTDIR)$(UDEVRULESDIR)/
	$(INSTALL) -m 0644 $(PROFILES) $(DESTDIR)$(PROFILEDIR)/
	$(REPREFIX) systemd/gateway.example.json > $(DESTDIR)$(DATADIR)/gateway.example.json
	chmod 0644 $(DESTDIR)$(DATADIR)/gateway.example.json
	$(INSTALL) -m 0644 $(DOCS) $(DESTDIR)$(DOCDIR)/
	$(INSTALL) -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/serialbridge $(DESTDIR)$(SYSCONFDIR)/serialbridge/profiles.d
	$(INSTALL) -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/serialbridge-server

# The example config becomes /etc/serialbridge/gateway.json only when there is none.
install-config:
	$(INSTALL) -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/serialbridge
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/serialbridge/gateway.json ]; then \
		echo "keeping $(DESTDIR)$(SYSCONFDIR)/serialbridge/gateway.json (example: $(DATADIR)/gateway.example.json)"; \
	else \
		$(REPREFIX) systemd/gateway.example.json > $(DESTDIR)$(SYSCONFDIR)/serialbridge/gateway.json && \
		chmod 0644 $(DESTDIR)$(SYSCONFDIR)/serialbridge/gateway.json; \
	fi

# Only for a live install (no DESTDIR) on a machine that runs systemd and udevd.
post-install: install-files install-config
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
	@if [ -z "$(DESTDIR)" ] && [ -S /run/udev/control ]; then udevadm control --reload-rules; fi

# Leaves /etc/serialbridge, /etc/serialbridge-server and the state in /var/lib alone.
uninstall:
	-@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then \
		systemctl disable --now $(UNITS) 2>/dev/null; \
	fi
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(BINARIES))
	rm -f $(addprefix $(DESTDIR)$(UNITDIR)/,$(UNITS))
	rm -f $(addprefix $(DESTDIR)$(UDEVRULESDIR)/,$(RULES))
	rm -rf $(DESTDIR)$(DATADIR) $(DESTDIR)$(DOCDIR)
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
	@if [ -z "$(DESTDIR)" ] && [ -S /run/udev/control ]; then udevadm control --reload-rules; fi
	@echo "kept $(SYSCONFDIR)/serialbridge, $(SYSCONFDIR)/serialbridge-server and /var/lib/{private/,}serialbridge*"

# The Debian package: the same install with PREFIX=/usr into a staging tree, plus packaging/debian.
DEB_NAME  := serialbridge_$(VERSION)_$(DEB_ARCH)
DEB_STAGE := $(DEB_BUILD)/$(DEB_NAME)

deb: check-binaries
	@[ -n "$(DEB_ARCH)" ] || { echo "error: dpkg --print-architecture failed: make deb needs dpkg" >&2; exit 1; }
	rm -rf $(DEB_STAGE)
	$(MAKE) --no-print-directory install-files install-config PREFIX=/usr DESTDIR=$(abspath $(DEB_STAGE)) BIN_DIR=$(BIN_DIR)
	$(INSTALL) -d $(DEB_STAGE)/DEBIAN
	sed -e 's|@VERSION@|$(VERSION)|' -e 's|@ARCH@|$(DEB_ARCH)|' \
		-e "s|@SIZE@|$$(du -sk --exclude=DEBIAN $(DEB_STAGE) | cut -f1)|" \
		packaging/debian/control > $(DEB_STAGE)/DEBIAN/control
	$(INSTALL) -m 0644 packaging/debian/conffiles $(DEB_STAGE)/DEBIAN/conffiles
	$(INSTALL) -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm $(DEB_STAGE)/DEBIAN/
	dpkg-deb --root-owner-group -Z$(DEB_COMPRESSION) --build $(DEB_STAGE) $(DEB_BUILD)/$(DEB_NAME).deb

clean-deb:
	rm -rf $(DEB_BUILD)
