// OverlayNamespace: the shared mount namespace that every workload of one
// isolation key runs in. For now there is one key for the whole node, "node".
//
// Inside it, "/" is an overlay whose lower layer is the host's "/"
// (read-only in effect: nothing is ever written to a lower layer) and whose
// upper and work directories live under REAPER_OVERLAY_BASE, so a workload
// sees the host's files but its writes land in the upper directory.
// /proc, /sys, /dev and /run are the host's, bound recursively; everything
// else, /tmp included, is the overlay.
//
// Layout for key K:
//   $REAPER_OVERLAY_BASE/K/upper    overlay upper directory (the writes)
//   $REAPER_OVERLAY_BASE/K/work     overlay work directory
//   $REAPER_OVERLAY_BASE/K/merged   where the overlay is mounted before
//                                   pivot_root makes it "/"
//   $REAPER_NS_DIR/K                the pin: a bind mount of the namespace's
//                                   nsfs file (/proc/<pid>/ns/mnt)
//   $REAPER_NS_DIR/K.lock           flock'ed while a workload creates or
//                                   joins the namespace
// $REAPER_NS_DIR is made a private mount point (bound onto itself first when
// it is not a mount point yet), the way `ip netns` treats /run/netns, so the
// pin mounts do not propagate to other mount namespaces.
// NOTE: whether $REAPER_NS_DIR is a mount point is looked up by its path in
// /proc/self/mountinfo, which lists paths without symlinks, so a path with a
// symlink in it gets bound onto itself again at each new namespace.
//
// Who does what, with P = reaper-runtime in the host namespace and C = the
// future workload, forked from P:
//   P: Lock(), PrepareDirectories(), IsPinned()
//   C: Join() when pinned, otherwise Create()
//   P: Pin(C) after a Create(), which needs P's namespace to be the older
//      one (the kernel refuses a pin that would make a namespace reference
//      itself)
//   P: Unlock()
//
// Pin lifetime: the pin keeps the namespace, and with it the overlay mount,
// alive after every workload has exited, so the next workload finds the same
// upper directory mounted. Nothing in Reaper removes it. An operator removes
// a namespace, once no workload of it runs any more, with
//   umount $REAPER_NS_DIR/node && rm $REAPER_NS_DIR/node
//   rm -rf $REAPER_OVERLAY_BASE/node
// (and `umount $REAPER_NS_DIR` to drop the self-bind of the directory). The
// overlay is unmounted by the kernel when the last reference to the
// namespace goes away.
//
// Thread-safety: none; used by one thread of one process, and the methods
// for C run in the forked child.
#ifndef REAPER_RUNTIME_OVERLAY_NAMESPACE_H_
#define REAPER_RUNTIME_OVERLAY_NAMESPACE_H_

#include <sys/types.h>

#include <string>

#include "common/status.h"
#include "sys/kernel.h"

namespace reaper {
namespace runtime {

inline constexpr char kNodeIsolationKey[] = "node";

struct OverlayLayout {
  std::string key;
  std::string upper;
  std::string work;
  std::string merged;
  std::string ns_dir;
  std::string pin;
  std::string lock;
};

OverlayLayout MakeOverlayLayout(const std::string& overlay_base, const std::string& ns_dir,
                                const std::string& key);

// The host directories bound into the namespace, in mount order.
inline constexpr const char* kHostBindDirectories[] = {"/proc", "/sys", "/dev", "/run"};

// The changes one Pin() call made to the host, so that Unpin() can undo
// exactly those.
struct PinRecord {
  bool bound_ns_dir = false;   // made the self-bind of ns_dir
  bool created_pin_file = false;
  bool mounted_pin = false;
};

class OverlayNamespace {
 public:
  OverlayNamespace(sys::Kernel& kernel, OverlayLayout layout);

  const OverlayLayout& layout() const { return layout_; }

  // P: takes the exclusive lock, creating ns_dir and the lock file when
  // missing. Blocks while another reaper-runtime holds it. Returns the
  // lock's fd, which the caller passes to Unlock().
  Result<int> Lock();
  // P: releases the lock for every process holding a copy of the fd, then
  // closes it.
  void Unlock(int lock_fd);

  // P: creates the upper, work and merged directories when missing, and
  // gives the upper directory the owner and mode of the host's "/", which
  // the overlay's root takes from it.
  Status PrepareDirectories();

  // P: whether the pin is a mounted nsfs file. A leftover empty pin file
  // (from a crash or an operator's umount) is not a pin.
  bool IsPinned();

  // C: enters the pinned namespace with setns. The working directory and
  // root become the namespace's root.
  Status Join();

  // C: creates the namespace in the steps below: unshare, make every mount
  // private, mount the overlay on `merged`, bind the host directories into
  // it, pivot_root into it. When `merged` is under /run, the bind of /run
  // brings a copy of the overlay along, which the last step detaches. An
  // overlay that cannot be mounted is an error saying that the overlay is
  // mandatory, and the caller must not run anything then.
  Status Create();

  // P: pins the namespace that process `pid` (a C after Create) is in.
  // Fills `record` with what it changed, also on failure.
  Status Pin(pid_t pid, PinRecord* record);
  // P: undoes what a Pin recorded, best effort (used when the workload that
  // created the namespace fails before it runs).
  Status Unpin(const PinRecord& record);

  // The steps of Create(), in order. They are public so that tests can
  // check each one.
  Status UnshareMountNamespace();
  Status MakeMountsPrivate();
  Status MountOverlay();
  Status BindHostDirectories();
  Status PivotIntoMerged();
  Status DetachNestedOverlay();

 private:
  Status MatchUpperToHostRoot();
  Status MakeNsDirPrivateMountPoint(PinRecord* record);

  sys::Kernel& kernel_;
  OverlayLayout layout_;
};

}  // namespace runtime
}  // namespace reaper

#endif  // REAPER_RUNTIME_OVERLAY_NAMESPACE_H_
