#include "CExecutorHook.h"

extern void *swift_task_enqueueGlobal_hook;

void **itsm_enqueue_global_hook_address(void) {
    return &swift_task_enqueueGlobal_hook;
}
