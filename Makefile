# The two commands of the README. Both create .venv and install what they need first.
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python

.PHONY: run test manage install install-dev browser gettext messages clean

$(VPY):
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(VPY) requirements.txt
	$(VPY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(VPY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Migrate, seed the demo data, and serve the portal with its Celery worker and beat (Ctrl-C stops all).
run: install
	$(VPY) -m devtools.localstack run

# One management command against `make run`'s setup (development settings, its database):
#   make manage ARGS="verify_audit_chain --full"
manage: install
	$(VPY) -m devtools.localstack manage $(ARGS)

# Debian's chromium for the browser tests (never a browser download); installed when we may.
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "custodia: chromium is not installed; browser tests will be skipped"; fi; }

# GNU gettext, which the catalogue test and `make messages` run (xgettext, msgmerge, msgfmt);
# installed when we may. Running the portal never needs it: the compiled catalogues are committed.
gettext:
	@command -v xgettext >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq gettext >/dev/null; \
	  else echo "custodia: gettext is not installed; the catalogue test will fail"; fi; }

# The Spanish and French catalogues brought up to date with the code and templates, then compiled
# (README, "Languages"): translate what is new in locale/*/LC_MESSAGES/django.po in between.
MESSAGES_IGNORED := --ignore=.venv --ignore=var --ignore=tests --ignore=benchmarks --ignore=devtools
messages: install gettext
	DEBUG=true $(VPY) manage.py makemessages -l es -l fr --no-obsolete --add-location=file $(MESSAGES_IGNORED)
	DEBUG=true $(VPY) manage.py compilemessages $(MESSAGES_IGNORED)

# ruff, bandit, migrations check, and the whole pytest suite against real PostgreSQL, Redis and Celery.
test: install-dev browser gettext
	$(VPY) -m devtools.localstack test $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var
