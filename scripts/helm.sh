#!/usr/bin/env bash
# Helm, built from its Go module through the Go module proxy (no prebuilt download is reachable here),
# pinned and cached under ~/.cache/siem. See `helm.sh --help`.
set -euo pipefail

readonly HELM_VERSION="v3.21.4"
readonly HELM_MODULE="helm.sh/helm/v3/cmd/helm"
readonly CACHE_ROOT="${SIEM_CACHE_DIR:-$HOME/.cache/siem}"
readonly HELM_HOME="$CACHE_ROOT/helm-$HELM_VERSION"
readonly HELM_BIN="$HELM_HOME/bin/helm"

usage() {
  cat <<EOF
Usage: $(basename "$0") COMMAND

Builds Helm $HELM_VERSION with 'go install $HELM_MODULE@$HELM_VERSION' (through
the Go module proxy) into \${SIEM_CACHE_DIR:-\$HOME/.cache/siem}/helm-$HELM_VERSION/bin.

Commands:
  install   Build Helm unless a complete build of $HELM_VERSION is cached;
            print the binary's path on stdout (progress goes to stderr).
  path      Print the binary's path; exit 1 if it is not installed yet.
  -h, --help
            Show this help.

Needs Go (the version helm's go.mod asks for, or GOTOOLCHAIN=auto to fetch it).
EOF
}

die() {
  echo "helm.sh: error: $*" >&2
  exit 1
}

log() {
  echo "helm.sh: $*" >&2
}

# Written last by install: a binary without it may come from an interrupted or older build.
readonly COMPLETE_MARKER="$HELM_HOME/.build-complete"

installed() {
  [[ -x "$HELM_BIN" && -f "$COMPLETE_MARKER" ]] \
    && "$HELM_BIN" version --template '{{.Version}}' 2>/dev/null | grep -qx "$HELM_VERSION"
}

# helm's Makefile stamps the Kubernetes version of its client-go into the binary; without it `helm template`
# assumes Kubernetes v1.20 and refuses charts that need newer. Same recipe: client-go v0.X.Y is Kubernetes 1.X.
ldflags() {
  local go_mod client_go minor
  go_mod="$(go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
  [[ -f "$go_mod" ]] || die "go mod download helm.sh/helm/v3@$HELM_VERSION gave no go.mod"
  client_go="$(awk '$1 == "k8s.io/client-go" {print $2}' "$go_mod")"
  minor="$(echo "$client_go" | cut -d. -f2)"
  [[ "$minor" =~ ^[0-9]+$ ]] || die "cannot read the client-go version from $go_mod"
  local flags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  local package
  for package in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
    flags+=" -X $package.k8sVersionMajor=1 -X $package.k8sVersionMinor=$minor"
  done
  echo "$flags"
}

cmd_install() {
  if installed; then
    log "helm $HELM_VERSION already installed"
  else
    command -v go >/dev/null || die "go not found: install Go (https://go.dev/doc/install) or put it on PATH"
    log "building helm $HELM_VERSION with go install (a few minutes the first time)"
    mkdir -p "$HELM_HOME"
    rm -f "$COMPLETE_MARKER"
    local flags
    flags="$(ldflags)"
    # A GOBIN per version; CGO off gives a static binary that needs no system libraries.
    GOBIN="$HELM_HOME/bin" CGO_ENABLED=0 go install -trimpath -ldflags "$flags" "$HELM_MODULE@$HELM_VERSION" \
      || die "go install $HELM_MODULE@$HELM_VERSION failed"
    echo "$flags" >"$COMPLETE_MARKER"
    installed || die "built $HELM_BIN but it does not report $HELM_VERSION"
    log "installed $HELM_BIN"
  fi
  echo "$HELM_BIN"
}

cmd_path() {
  installed || die "helm $HELM_VERSION is not installed: run '$(basename "$0") install'"
  echo "$HELM_BIN"
}

main() {
  (($# == 1)) || { usage >&2; exit 2; }
  case "$1" in
    install) cmd_install ;;
    path) cmd_path ;;
    -h | --help | help) usage ;;
    *) usage >&2; die "unknown command '$1'" ;;
  esac
}

main "$@"
