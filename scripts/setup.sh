#!/usr/bin/env bash
# One-time (and idempotent, cheap to re-run) setup of the notebook kit on Debian 12 (stack-recipe §1, §11):
#   1. Debian packages: Jupyter (nbclient/nbformat/ipykernel under /usr/bin/python3) and chromium
#      (installed with apt when running as root; otherwise it says what is missing and continues);
#   2. npm ci, only when node_modules is missing or does not match package-lock.json;
#   3. the repo-root tslab kernelspec in .jupyter/kernels/tslab-proj (scripts/install-kernel.mjs);
#   4. a Vulkan driver Dawn accepts, for the WebGPU backend (lib/models/webgpu.ts, ../shared/docs/webgpu-recipe.md):
#      when no adapter is found and this runs as root on Debian 12, Mesa 25's lavapipe from bookworm-backports
#      (a failure here only warns: the WebGPU backend is optional and its parity test says why it cannot run).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

export ONNXRUNTIME_NODE_INSTALL=skip
export DEBIAN_FRONTEND=noninteractive

APT_PACKAGES=(jupyter-core jupyter-client jupyter-nbconvert python3-nbclient python3-nbformat
  python3-ipykernel jupyter-notebook chromium)
STAMP="node_modules/.ipo-setup-stamp"

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }
say() { echo "setup: $*"; }

# --- 1. system packages --------------------------------------------------------------------------------
t=$(now)
missing=()
if ! [ -x /usr/bin/python3 ] || ! /usr/bin/python3 -c 'import nbclient, nbformat, ipykernel, jupyter_client' >/dev/null 2>&1 \
   || ! [ -x /usr/bin/jupyter ]; then
  missing+=("jupyter (nbclient/nbformat/ipykernel for /usr/bin/python3)")
fi
if ! [ -x /usr/bin/chromium ]; then
  missing+=("chromium")
fi

if [ ${#missing[@]} -eq 0 ]; then
  say "system packages: jupyter + chromium present ($(since "$t"))"
elif [ "$(id -u)" -eq 0 ]; then
  log=$(mktemp)
  if apt-get update -qq >"$log" 2>&1 \
     && apt-get install -y -qq --no-install-recommends "${APT_PACKAGES[@]}" >>"$log" 2>&1; then
    say "apt-get installed ${APT_PACKAGES[*]} ($(since "$t"))"
    rm -f "$log"
  else
    say "apt-get install FAILED ($(since "$t")); last lines of its log:"
    tail -n 20 "$log" >&2
    rm -f "$log"
    exit 1
  fi
else
  list="$(printf '%s, ' "${missing[@]}")"
  say "missing: ${list%, } -- install as root with: apt-get update && apt-get install -y --no-install-recommends ${APT_PACKAGES[*]} (continuing)"
fi

# --- 2. npm dependencies -------------------------------------------------------------------------------
lock_hash() { { sha256sum package-lock.json 2>/dev/null || shasum -a 256 package-lock.json; } | cut -d' ' -f1; }
t=$(now)
want="$(lock_hash)"
need_ci=""
if ! [ -d node_modules ]; then
  need_ci="node_modules missing"
elif [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  :  # installed by this script from this exact lockfile
elif [ -f node_modules/.package-lock.json ] && ! [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # npm's own hidden lockfile is at least as new as package-lock.json: someone ran `npm ci`/`npm install`
  # after the last lockfile change. Adopt it instead of reinstalling.
  echo "$want" >"$STAMP"
else
  need_ci="node_modules older than package-lock.json"
fi

if [ -n "$need_ci" ]; then
  log=$(mktemp)
  if npm ci --no-audit --no-fund --loglevel=error >"$log" 2>&1; then
    echo "$want" >"$STAMP"
    say "npm ci ($need_ci) ($(since "$t"))"
    rm -f "$log"
  else
    say "npm ci FAILED ($(since "$t")); last lines of its log:"
    tail -n 30 "$log" >&2
    rm -f "$log"
    exit 1
  fi
else
  say "node_modules up to date with package-lock.json ($(since "$t"))"
fi

# --- 3. kernelspec -------------------------------------------------------------------------------------
t=$(now)
out="$(node scripts/install-kernel.mjs 2>&1)"
say "kernel: ${out#install-kernel: } ($(since "$t"))"

# --- 4. WebGPU: a Vulkan driver Dawn accepts ------------------------------------------------------------
# Debian 12's Mesa 22.3.6 lavapipe gives Dawn no adapter (it lacks shaderUniform*ArrayDynamicIndexing); Mesa 25 from
# bookworm-backports does. On a GPU machine the NVIDIA driver's Vulkan ICD is found first and nothing is installed.
webgpu_probe() {
  node --import tsx --input-type=module -e "
    const { probeWebGpu } = await import('./lib/models/webgpu.ts');
    const r = await probeWebGpu({ timeoutMs: 20000 });
    console.log(r.adapter ? 'ok ' + r.adapter.summary : 'none ' + r.reason.replace(/^no WebGPU adapter: /, '').split(' — ')[0]);
    process.exit(0);" 2>/dev/null | tail -n 1 || true
}
# the URI of the machine's own Debian archive (deb822 debian.sources, else sources.list), for the backports suite
debian_uri() {
  local f=/etc/apt/sources.list.d/debian.sources uri=""
  if [ -f "$f" ]; then
    uri=$(awk 'BEGIN { RS = ""; FS = "\n" } /Suites:[^\n]*bookworm([ \n]|$)/ { for (i = 1; i <= NF; i++) if ($i ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", $i); split($i, u, " "); print u[1]; exit } }' "$f")
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list)
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}
mesa_version() { dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true; }
t=$(now)
probe="$(webgpu_probe)"
codename="$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")"
if [ "${probe%% *}" = "ok" ]; then
  say "webgpu: adapter ${probe#ok } ($(since "$t"))"
elif [ "$(id -u)" -ne 0 ]; then
  say "webgpu: ${probe#none } -- as root, bash scripts/setup.sh installs Mesa 25 lavapipe from bookworm-backports (Debian 12); GPU machines need the NVIDIA driver's Vulkan ICD (continuing; optional)"
elif [ "$codename" != "bookworm" ]; then
  say "webgpu: ${probe#none } -- automatic install is for Debian 12 (bookworm) only: install mesa-vulkan-drivers >= 25 and libvulkan1, or the NVIDIA driver (continuing; optional)"
elif mv="$(mesa_version)"; [ -n "$mv" ] && dpkg --compare-versions "$mv" ge 25 && dpkg-query -W libvulkan1 >/dev/null 2>&1; then
  say "webgpu: ${probe#none } although mesa-vulkan-drivers $mv is installed ($(since "$t"); continuing; optional)"
else
  log=$(mktemp)
  src=/etc/apt/sources.list.d/ipo-bookworm-backports.sources
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    uri="$(debian_uri)"
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" >"$src"
    echo "added $src ($uri bookworm-backports)" >>"$log"
  fi
  if apt-get update -qq >>"$log" 2>&1 \
     && apt-get install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers libvulkan1 >>"$log" 2>&1; then
    probe="$(webgpu_probe)"
    if [ "${probe%% *}" = "ok" ]; then
      say "webgpu: installed mesa-vulkan-drivers $(mesa_version) from bookworm-backports; adapter ${probe#ok } ($(since "$t"))"
    else
      say "webgpu: installed mesa-vulkan-drivers $(mesa_version) from bookworm-backports but still ${probe#none } ($(since "$t"); continuing; optional)"
    fi
  else
    say "webgpu: apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1 FAILED ($(since "$t"); continuing, the WebGPU backend is optional); last lines of its log:"
    tail -n 10 "$log" >&2
  fi
  rm -f "$log"
fi
