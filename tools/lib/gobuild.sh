# shellcheck shell=bash
# What tools/{kube,helm,gitops}/build.sh share: build Go binaries from pinned modules into
# a versioned cache outside the repository, idempotently. Source it, then:
#
#   out="$(cache_dir "$TENANT_OPERATOR_X_DIR" "$tag")"
#   skip_if_built "$out" "${X_BUILD_FORCE:-}" "${1:-}" bin1 bin2   # exits when nothing to do
#   go="$(find_go "$tag")"; make_scratch "$out" "$tag"   # sets $work
#   ... go build -o "$work/" ...
#   install_built "$work" "$out" "<what was built>" bin1 bin2       # prints $out
#
# A build goes into a scratch directory beside the target and moves into place at the
# end, with a .complete stamp last, so an interrupted build never looks complete.

module_version() { # <go.mod> <module path> -> the version the require block pins
    awk -v m="$2" '{ for (i = 1; i < NF; i++) if ($i == m && $(i + 1) ~ /^v/) { print $(i + 1); exit } }' "$1"
}

cache_dir() { # <override dir or ""> <tag> -> where the binaries live
    echo "${1:-${XDG_CACHE_HOME:-$HOME/.cache}/tenant-operator/bin/$2}"
}

is_built() { # <dir> <binary>...: the stamp and every binary are there
    local dir="$1" binary
    shift
    [[ -f "$dir/.complete" ]] || return 1
    for binary in "$@"; do [[ -x "$dir/$binary" ]] || return 1; done
}

skip_if_built() { # <dir> <force: 1 rebuilds> <first script argument> <binary>...
    local dir="$1" force="$2" arg="$3"
    shift 3
    if [[ "$arg" == --print-dir ]] || { is_built "$dir" "$@" && [[ "$force" != 1 ]]; }; then
        echo "$dir"
        exit 0
    fi
}

find_go() { # <tag> -> the go command, or exit saying how to get one
    local go="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
    if [[ ! -x "$go" ]] && ! command -v "$go" >/dev/null; then
        echo "build.sh: Go is required to build $1 (set GO=/path/to/go)" >&2
        exit 1
    fi
    echo "$go"
}

make_scratch() { # <dir> <tag>: $work, a fresh directory beside <dir> removed at exit
    mkdir -p "$(dirname "$1")"
    work="$(mktemp -d "$(dirname "$1")/.build-$2.XXXXXX")"
    trap 'rm -rf "$work"' EXIT
}

install_built() { # <scratch> <dir> <stamp text> <binary>...: move into place, print <dir>
    local work="$1" dir="$2" stamp="$3" binary
    shift 3
    printf '%s\n' "$stamp" >"$work/.complete"
    mkdir -p "$dir"
    for binary in "$@"; do mv -f "$work/$binary" "$dir/$binary"; done
    mv -f "$work/.complete" "$dir/.complete"
    echo "$dir"
}

go_env() { # reproducible, static builds from the committed go.sum only
    export GOFLAGS="-mod=readonly ${GOFLAGS:-}"
    export CGO_ENABLED=0
}
