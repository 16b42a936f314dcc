/* Files replaced atomically: write a temporary file next to the target,
 * fsync it, rename it over the target. A failure at any step removes
 * only the temporary file, so the target is either the old file or the
 * complete new one, never a truncated mix — and a path the library did
 * not create (a device node, a FIFO, a directory) is refused before
 * anything is opened, never truncated or removed.
 *
 *   vl_atomic_file af;
 *   VL_TRY(vl_atomic_file_open(&af, path, "the snapshot"));
 *   fwrite(..., af.f);                    // any stdio writes
 *   VL_TRY(vl_atomic_file_commit(&af));   // or vl_atomic_file_abort(&af)
 *
 * A symlink to a regular file is followed: the file it names is replaced
 * and the link stays. A new file gets mode 0666 less the umask, a
 * replaced file keeps its mode. */
#ifndef VL_CORE_ATOMIC_FILE_H
#define VL_CORE_ATOMIC_FILE_H

#include <stdio.h>

#include "vllm/videollm.h"

typedef struct vl_atomic_file {
    FILE *f;           /* write here */
    char *path;        /* the target (symlinks resolved) */
    char *tmp_path;    /* the temporary file in the target's directory */
    const char *what;  /* for messages: "the snapshot", "the PNG", ... */
} vl_atomic_file;

/* Create the temporary file for `path`. VLLM_ERR_INVALID_ARG when `path`
 * exists and is not a regular file; VLLM_ERR_IO when the directory is not
 * writable. On error nothing is left to clean up. */
vllm_status vl_atomic_file_open(vl_atomic_file *af, const char *path, const char *what);

/* Flush, fsync and close the temporary file and rename it over the
 * target (then fsync the directory). On error the temporary file is
 * removed and the target is untouched. Either way `af` is released. */
vllm_status vl_atomic_file_commit(vl_atomic_file *af);

/* Give up: close and remove the temporary file; the target is untouched. */
void vl_atomic_file_abort(vl_atomic_file *af);

#endif
