# packaging/: the Debian and RPM packages crmig and crmig-tests.
#   make deb             build/pkg/deb/: source package (.dsc, orig and debian
#                        tarballs) and crmig_*.deb, crmig-tests_*.deb; lintian
#                        must report no error and no warning
#   make rpm             build/pkg/rpm/: SRPM and crmig-*.rpm, crmig-tests-*.rpm
#                        (rpmbuild --nodeps: see below); rpmlint must report no error
#   make check-packages  both, then the built .debs installed in a lab host image
#                        (vm-images/build --deb) and a case run from the installed
#                        package (packaging/lab-check); `make check` runs it
# One version: VERSION (crmig --version), checked against debian/changelog and
# the spec by packaging/check-version.
PKG_OUT      := build/pkg
PKG_TARBALL   = $(PKG_OUT)/crmig-$(VERSION).tar.gz
DEB_DIR      := $(PKG_OUT)/deb
RPM_TOP      := $(PKG_OUT)/rpm
PKG_JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
LINTIAN_OPTS ?= --fail-on error,warning --display-info
# The case that check-packages runs from the installed package (crmig-suite
# run options).
# the installed packages carry no zdtm build: the case files only
PKG_LAB_CASE ?= --suite cases --cases memory --strategy stop --mode bare

.PHONY: deb rpm check-packages deb-build rpm-build dist-tarball install-installed-tests

deb:
	$(call deps,pkg)
	@$(submake) deb-build

rpm:
	$(call deps,pkg)
	@$(submake) rpm-build

check-packages:
	$(call deps,pkg)
	$(call deps,lab)
	@t0=$$(date +%s); \
	packaging/lint-templates && \
	$(submake) deb-build rpm-build && \
	packaging/lab-check --debs $(DEB_DIR) --out $(PKG_OUT)/check $(PKG_LAB_CASE) && \
	echo "check-packages: passed in $$(( $$(date +%s) - t0 )) s"

dist-tarball:
	@packaging/check-version
	@mkdir -p $(PKG_OUT)
	@packaging/make-dist $(PKG_OUT) >/dev/null
	@echo "dist: $(PKG_TARBALL)"

# dpkg-source wants debian/ at the top of the tree: the tarball (as the
# upstream tarball) unpacked, packaging/debian copied in with its links to
# packaging/systemd resolved.
deb-build: dist-tarball
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)
	cp $(PKG_TARBALL) $(DEB_DIR)/crmig_$(VERSION).orig.tar.gz
	tar -C $(DEB_DIR) -xzf $(DEB_DIR)/crmig_$(VERSION).orig.tar.gz
	cp -rL packaging/debian $(DEB_DIR)/crmig-$(VERSION)/debian
	cd $(DEB_DIR)/crmig-$(VERSION) && DEB_BUILD_OPTIONS="parallel=$(PKG_JOBS) $(DEB_BUILD_OPTIONS)" \
		dpkg-buildpackage -us -uc > ../build.log 2>&1 || { tail -n 30 ../build.log; echo "deb: dpkg-buildpackage failed (log: $(DEB_DIR)/build.log)"; exit 1; }
	@cd $(DEB_DIR) && for f in *.deb *.dsc *.tar.*; do printf 'deb: %-48s %8s bytes\n' "$$f" "$$(stat -c %s "$$f")"; done
	@echo "deb: lintian $(LINTIAN_OPTS) $(DEB_DIR)/crmig_*.changes"
	@set -o pipefail; lintian $(LINTIAN_OPTS) $(DEB_DIR)/crmig_*_$$(dpkg --print-architecture).changes 2>&1 | tee $(DEB_DIR)/lintian.txt; \
	rc=$$?; echo "deb: lintian: $$(grep -c '^E: ' $(DEB_DIR)/lintian.txt) errors, $$(grep -c '^W: ' $(DEB_DIR)/lintian.txt) warnings, $$(grep -c '^I: ' $(DEB_DIR)/lintian.txt) info"; exit $$rc

# rpmbuild here is Debian's rpm: Fedora's BuildRequires are not RPMs it can
# see, so the local build is --nodeps (the libraries come from the Debian
# -dev packages that `make` installs). The rpmlintrc next to the spec holds
# the reasoned filters Fedora's tooling also reads.
rpm-build: dist-tarball
	rm -rf $(RPM_TOP) && mkdir -p $(RPM_TOP)/SOURCES
	cp $(PKG_TARBALL) $(RPM_TOP)/SOURCES/
	rpmbuild -ba --nodeps --define "_topdir $(abspath $(RPM_TOP))" --define "_smp_mflags -j$(PKG_JOBS)" \
		packaging/rpm/crmig.spec > $(RPM_TOP)/build.log 2>&1 || { tail -n 30 $(RPM_TOP)/build.log; echo "rpm: rpmbuild failed (log: $(RPM_TOP)/build.log)"; exit 1; }
	@cd $(RPM_TOP) && for f in RPMS/*/*.rpm SRPMS/*.rpm; do printf 'rpm: %-52s %8s bytes\n' "$${f#*/}" "$$(stat -c %s "$$f")"; done
	@echo "rpm: rpmlint -r packaging/rpm/crmig.rpmlintrc"
	@rpmlint -r packaging/rpm/crmig.rpmlintrc $(RPM_TOP)/RPMS/*/*.rpm $(RPM_TOP)/SRPMS/*.rpm packaging/rpm/crmig.spec \
		> $(RPM_TOP)/rpmlint.txt 2>&1; cat $(RPM_TOP)/rpmlint.txt; \
	summary=$$(grep -E '[0-9]+ errors?, [0-9]+ warnings?' $(RPM_TOP)/rpmlint.txt | tail -n 1); \
	errors=$$(sed -n 's/.* \([0-9][0-9]*\) errors\{0,1\},.*/\1/p' <<< "$$summary"); \
	if [ -z "$$summary" ]; then echo "rpm: rpmlint printed no summary"; exit 1; fi; \
	if [ "$$errors" != 0 ]; then echo "rpm: rpmlint: $$errors errors"; exit 1; fi; \
	echo "rpm: rpmlint: $$summary"

# ---- installed-tests ----------------------------------------------------------
# Next to the runner: crmig-installed-test (smoke and lab checks of the
# installed packages, for autopkgtest, tmt and installed-tests runners); in
# share/installed-tests/crmig one .test file per case and one for the smoke.
install-tests: install-installed-tests
install-installed-tests:
	install -d $(DESTDIR)$(TESTS_LIBEXEC) $(DESTDIR)$(TESTS_SHARE)
	install -m 0755 packaging/installed-tests/crmig-installed-test $(DESTDIR)$(TESTS_LIBEXEC)/
	@printf '[Test]\nDescription=crmig and crmig-tests as installed: version, commands, cases, workloads, socket activation\nType=session\nExec=%s/crmig-installed-test smoke\n' \
		$(TESTS_LIBEXEC) > $(DESTDIR)$(TESTS_SHARE)/smoke.test
	@for c in testsuite/cases/*.case; do n=$$(basename $$c .case); \
		printf '[Test]\nDescription=%s (needs root, QEMU and a Debian mirror; exit 77 when the machine cannot run the lab)\nType=session-exclusive\nExec=%s/crmig-installed-test lab --tier full --cases %s\nOutput=TAP\n' \
			"$$n" $(TESTS_LIBEXEC) "$$n" > $(DESTDIR)$(TESTS_SHARE)/$$n.test || exit 1; done
