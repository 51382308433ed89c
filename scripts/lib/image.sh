# shellcheck shell=bash
# Tiny local container images, built without a registry. Source
# scripts/lib/common.sh first, and scripts/lib/containerd.sh for image_import
# and image_import_cri.
#
# The test image has one layer with the programs of IMAGE_PROGRAMS copied
# from this host's /bin, together with the shared libraries ldd lists for
# them. Reaper ignores the image's files (its workloads see the host's root),
# but runc runs from them, so the same image serves both runtimes.
#
# The pause image is the pod sandbox image of the CRI tests: one static
# program, /pause, compiled from tests/e2e/pause.cc. Reaper runs no sandbox
# process, but CRI needs the image to exist and runc runs it.

TEST_IMAGE=localhost/reaper-test:1
PAUSE_IMAGE=localhost/reaper-pause:1
# seq and head produce the large outputs of the CRI tests under runc.
IMAGE_PROGRAMS=(sh echo true sleep cat seq head)
# The containerd namespace the CRI plugin keeps its images in.
CRI_NAMESPACE=k8s.io

_IMAGE_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# Prints the OCI architecture name of this machine.
_image_architecture() {
  local machine
  machine=$(uname -m)
  case $machine in
    x86_64) echo amd64 ;;
    aarch64) echo arm64 ;;
    armv7l | armv6l) echo arm ;;
    i?86) echo 386 ;;
    ppc64le | s390x | riscv64) echo "$machine" ;;
    *) die "no OCI architecture name known for machine type $machine" ;;
  esac
}

# Copies a file into the root filesystem ROOT at the same path, following
# symbolic links, so that the image does not depend on the host's /bin or
# /lib links (merged /usr or not).
_image_copy_file() {
  local root=$1 path=$2
  mkdir -p "$root$(dirname "$path")"
  cp -L "$path" "$root$path"
}

# Fills ROOT with the programs and their shared libraries.
_image_fill_test_rootfs() {
  local root=$1 program path library
  mkdir -p "$root"/{bin,dev,etc,proc,sys,tmp}
  chmod 1777 "$root/tmp"
  for program in "${IMAGE_PROGRAMS[@]}"; do
    path=/bin/$program
    [[ -x $path ]] || die "$path not found on this host; the test image needs it"
    _image_copy_file "$root" "$path"
    # ldd prints "name => /path (0x...)" or "/path (0x...)"; the vDSO has no path.
    while read -r library; do
      _image_copy_file "$root" "$library"
    done < <(ldd "$path" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }')
  done
}

# Stores FILE in the OCI layout's blob directory LAYOUT/blobs/sha256 and
# prints "sha256:<hex> <size>".
_image_add_blob() {
  local layout=$1 file=$2 hex size
  hex=$(sha256sum "$file" | cut -d' ' -f1)
  size=$(stat -c %s "$file")
  mv "$file" "$layout/blobs/sha256/$hex"
  printf 'sha256:%s %s\n' "$hex" "$size"
}

# Fills ROOT with /pause, compiled statically from tests/e2e/pause.cc.
_image_fill_pause_rootfs() {
  local root=$1 source=$_IMAGE_REPO/tests/e2e/pause.cc
  command -v g++ >/dev/null || die "g++ not found; the pause image is compiled from $source"
  g++ -static -Os -s -Wall -Wextra -o "$root/pause" "$source" ||
    die "compiling $source failed"
}

# Writes an OCI image layout tarball to OUTPUT holding one image named NAME.
# KIND is "test" (the default) or "pause".
image_build_archive() {
  local output=$1 name=$2 kind=${3:-test} work layout architecture process
  local layer_digest layer_size config_digest config_size manifest_digest manifest_size
  # A work directory next to the output, so that a failed build leaves its
  # files where the caller cleans up anyway.
  work=$(mktemp -d "$(dirname "$output")/image.XXXXXX")
  layout=$work/layout
  mkdir -p "$layout/blobs/sha256" "$work/rootfs"
  architecture=$(_image_architecture)

  case $kind in
    test)
      _image_fill_test_rootfs "$work/rootfs"
      process='"Cmd":["/bin/sh"]'
      ;;
    pause)
      _image_fill_pause_rootfs "$work/rootfs"
      process='"Entrypoint":["/pause"]'
      ;;
    *) die "unknown image kind '$kind': expected test or pause" ;;
  esac
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
    -C "$work/rootfs" -cf "$work/layer.tar" .
  # The layer is not compressed, so its digest is also its diff ID.
  read -r layer_digest layer_size < <(_image_add_blob "$layout" "$work/layer.tar")

  printf '{"architecture":"%s","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],%s},"rootfs":{"type":"layers","diff_ids":["%s"]}}' \
    "$architecture" "$process" "$layer_digest" >"$work/config.json"
  read -r config_digest config_size < <(_image_add_blob "$layout" "$work/config.json")

  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%s}]}' \
    "$config_digest" "$config_size" "$layer_digest" "$layer_size" >"$work/manifest.json"
  read -r manifest_digest manifest_size < <(_image_add_blob "$layout" "$work/manifest.json")

  # containerd's importer takes the full image name from the
  # io.containerd.image.name annotation.
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"platform":{"architecture":"%s","os":"linux"},"annotations":{"io.containerd.image.name":"%s"}}]}' \
    "$manifest_digest" "$manifest_size" "$architecture" "$name" >"$layout/index.json"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"

  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
    -C "$layout" -cf "$output" oci-layout index.json blobs
  rm -rf "$work"
}

# Imports the image archive ARCHIVE named NAME into containerd namespace
# NAMESPACE of the private containerd and checks that it is complete.
_image_import_archive() {
  local archive=$1 name=$2 namespace=$3
  ctr_private -n "$namespace" images import "$archive" >/dev/null ||
    die "ctr -n $namespace images import $archive failed"
  ctr_private -n "$namespace" images check "name==$name" | grep -q complete ||
    die "image $name is not complete in namespace $namespace after the import"
}

# Builds the test image and imports it into the private containerd's
# "default" namespace as TEST_IMAGE.
image_import() {
  local archive=$CONTAINERD_DIR/image.tar
  [[ -f $archive ]] || image_build_archive "$archive" "$TEST_IMAGE" test
  _image_import_archive "$archive" "$TEST_IMAGE" default
}

# Builds the test image and the pause image and imports both into the CRI
# namespace CRI_NAMESPACE, where the CRI plugin finds them: TEST_IMAGE for
# the containers and PAUSE_IMAGE for the pod sandboxes.
image_import_cri() {
  local archive=$CONTAINERD_DIR/image.tar pause_archive=$CONTAINERD_DIR/pause.tar
  [[ -f $archive ]] || image_build_archive "$archive" "$TEST_IMAGE" test
  image_build_archive "$pause_archive" "$PAUSE_IMAGE" pause
  _image_import_archive "$archive" "$TEST_IMAGE" "$CRI_NAMESPACE"
  _image_import_archive "$pause_archive" "$PAUSE_IMAGE" "$CRI_NAMESPACE"
}
