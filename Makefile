# The two commands a newcomer needs: `make run` and `make test`. Each installs what it needs.
.PHONY: deps test-deps run render test bench bench-deps bench-http

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PACKAGES := cmake nasm libvips-tools openssl

# libheif 1.19 reads HEIC/AVIF and writes AVIF, with one plugin per codec (libde265 for HEVC,
# dav1d and aomenc for AV1; never the GPL x265 one); libheif-examples gives the tests
# heif-convert and heif-enc. Debian 12 ships 1.15, which cannot open many iOS 18 photos, so
# on bookworm they come from bookworm-backports.
HEIF_PACKAGES := libheif-dev libheif-plugin-libde265 libheif-plugin-dav1d libheif-plugin-aomenc libheif-examples
BACKPORTS := /etc/apt/sources.list.d/thumbkit-bookworm-backports.list

# Debian packages: cmake + nasm build libjpeg-turbo; libvips-tools is the comparison peer;
# openssl signs the SNS messages the tests send (an implementation independent of ours).
# Idempotent: installs only what is missing.
deps:
	@missing=$$(for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
	@missing=$$(for p in $(HEIF_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ] || ! pkg-config --atleast-version=1.19 libheif; then \
	  target=""; \
	  if grep -q '^VERSION_CODENAME=bookworm' /etc/os-release; then \
	    target="-t bookworm-backports"; \
	    grep -rqs '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/ || \
	      echo 'deb http://deb.debian.org/debian bookworm-backports main' | $(SUDO) tee $(BACKPORTS) >/dev/null; \
	  fi; \
	  echo "installing libheif 1.19: $(HEIF_PACKAGES)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
	    --no-install-recommends $$target $(HEIF_PACKAGES); \
	fi

# What only the tests need: Debian's headless Chromium and its WebDriver (the demo page test),
# Django and pytest for Debian's own python3 (the Python helper), Node.js if the machine has
# none (the JS helper); botocore (AWS's S3 model, to validate deploy/*.json), docker-compose
# (to validate compose.yaml; no engine needed), shellcheck (deploy/garage/init.sh),
# ffmpeg (videos' poster frames; a program run as a subprocess, never linked), and moto's
# server (PyPI moto[server]: a real SQS API for the queue tests) in its own venv under
# target/moto. Idempotent like `deps`.
TEST_PACKAGES := chromium chromium-driver python3 python3-django python3-pytest \
  python3-botocore python3-venv docker-compose shellcheck ffmpeg
MOTO := target/moto/bin/moto_server
MOTO_VERSION := 5.2.6
test-deps: deps
	@missing=$$(for p in $(TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	command -v node >/dev/null || missing="$$missing nodejs"; \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
	    --no-install-recommends $$missing; \
	fi
	@[ -x $(MOTO) ] || { echo "installing moto[server] $(MOTO_VERSION) in target/moto"; \
	  python3 -m venv target/moto && target/moto/bin/pip install -q 'moto[server]==$(MOTO_VERSION)'; }

# Serves thumbnails on the embedded default store (./data), with a real GPS-tagged photo in place.
run: deps
	cargo build --release
	@mkdir -p data/demo && [ -f data/demo/photo.jpg ] || cp fixtures/IMG_9424.JPG data/demo/photo.jpg
	@echo "open http://127.0.0.1:8080/t/thumb/demo/photo.jpg (also: small, medium, large, avatar, og)"
	./target/release/thumbkit serve --storage fs:./data

# Renders a real camera photo (with GPS) with the `thumb` preset and shows what the output carries.
render: deps
	cargo build --release
	./target/release/thumbkit inspect fixtures/IMG_9424.JPG
	./target/release/thumbkit render --preset thumb fixtures/IMG_9424.JPG -o thumb.jpg
	./target/release/thumbkit inspect thumb.jpg

test: test-deps
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
	scripts/deny.sh
	cd clients/js && node --test test/
	cd clients/python && /usr/bin/python3 -m pytest -q -p no:cacheprovider
	rm -rf target/openapi
	cargo test
	scripts/openapi-check.sh

# sharp (npm, with its own prebuilt libvips) is the in-process peer; installed here, never by `make test`.
bench-deps: deps
	@command -v node >/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	  $(SUDO) apt-get install -y -qq --no-install-recommends nodejs npm; }
	@[ -d benches/sharp/node_modules/sharp ] || (cd benches/sharp && npm ci --no-audit --no-fund)

bench: bench-deps
	cargo build --release
	./target/release/thumbkit bench

# thumbkit over HTTP against nginx (cache hits), thumbor and vipsthumbnail (cold renders), and
# uploads with pre-generation; installs nginx, wrk and thumbor (in a virtualenv) if missing.
bench-http: deps
	benches/http/run
