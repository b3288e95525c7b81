#ifndef CEXECUTORHOOK_H
#define CEXECUTORHOOK_H

/// Where the Swift runtime keeps `swift_task_enqueueGlobal_hook`, the function that, when set,
/// receives every job for the global concurrent executor.
///
/// SwiftNIO finds the hook with dlsym, which fails in our release binary: with the standard
/// library linked statically the runtime's symbols are hidden. Linking to it works in both builds.
void **itsm_enqueue_global_hook_address(void);

#endif
