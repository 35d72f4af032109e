#!/usr/bin/python3
"""Execute notebooks headlessly with the project's tslab kernel (stack-recipe section 4).

Usage: /usr/bin/python3 scripts/run-notebooks.py [--write] notebook.ipynb ...

- Uses Debian's nbformat + nbclient only (run it with /usr/bin/python3, not a pyenv python).
- The kernel is always `tslab-proj` (scripts/install-kernel.mjs), which starts in the repo root, so
  cells import `./lib/x` wherever the notebook file lives; the client's cwd is the repo root too.
- JUPYTER_PATH defaults to <repo>/.jupyter. The environment is passed through to the kernel, so cells
  can read variables such as IPO_CI=1 via process.env.
- tslab reports errors on stderr only, so on failure the failing cell's source and stderr are printed.
- --write saves the executed outputs back into the notebook (only when it passes).
- Prints `PASS path (Ns)` / `FAIL path (Ns)` per notebook and `N passed, M failed` last; exit 1 on failure.
"""
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNEL = 'tslab-proj'
# seconds one cell may run; full-size runs (IPO_LIMIT=200 in notebook 05 trains 4 policies in one cell) need more
CELL_TIMEOUT = int(os.environ.get('IPO_CELL_TIMEOUT', '900'))

os.environ.setdefault('JUPYTER_PATH', os.path.join(ROOT, '.jupyter'))
os.environ.setdefault('PYDEVD_DISABLE_FILE_VALIDATION', '1')

import nbformat  # noqa: E402
from nbclient import NotebookClient  # noqa: E402


def indent(text, prefix='    '):
    return ''.join(prefix + line for line in text.splitlines(True)) if text else ''


def cell_stderr(cell):
    parts = []
    for out in cell.get('outputs', []):
        if out.get('output_type') == 'stream' and out.get('name') == 'stderr':
            parts.append(out.get('text', ''))
        elif out.get('output_type') == 'error':
            parts.append('%s: %s\n' % (out.get('ename', ''), out.get('evalue', '')))
            parts.append('\n'.join(out.get('traceback', [])) + '\n')
    return ''.join(parts)


def run_one(path, write):
    nb = nbformat.read(path, as_version=4)
    started = {'index': None}

    def on_cell_start(cell, cell_index):
        started['index'] = cell_index

    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name=KERNEL,
        record_timing=False,
        allow_errors=False,
        resources={'metadata': {'path': ROOT}},
        on_cell_start=on_cell_start,
    )
    t0 = time.time()
    try:
        client.execute()
    except Exception as exc:  # CellExecutionError, CellTimeoutError, DeadKernelError, kernel start failures
        dt = time.time() - t0
        print('FAIL %s (%.1fs)' % (path, dt), flush=True)
        idx = started['index']
        # Prefer the cell that was running; otherwise the first code cell with error/stderr outputs.
        cells = nb.cells
        cand = None
        if idx is not None and 0 <= idx < len(cells):
            cand = idx
        else:
            for i, c in enumerate(cells):
                if c.cell_type == 'code' and cell_stderr(c):
                    cand = i
                    break
        err = ''
        if cand is not None:
            cell = cells[cand]
            print('  failing cell #%d:' % cand)
            print(indent(cell.source.rstrip('\n') + '\n'), end='')
            err = cell_stderr(cell)
            if err:
                print('  stderr:')
                print(indent(err if err.endswith('\n') else err + '\n'), end='')
        msg = str(exc).strip()
        if err or not msg:
            # tslab's CellExecutionError only repeats the cell source plus "<Error>:"; the stderr above says it all.
            print('  (%s)' % type(exc).__name__)
        else:
            lines = msg.splitlines()
            if len(lines) > 40:
                lines = lines[:40] + ['... (%d more lines)' % (len(lines) - 40)]
            print('  %s:' % type(exc).__name__)
            print(indent('\n'.join(lines) + '\n'), end='')
        sys.stdout.flush()
        return False
    dt = time.time() - t0
    if write:
        nbformat.write(nb, path)
    print('PASS %s (%.1fs)' % (path, dt), flush=True)
    return True


def main(argv):
    write = False
    paths = []
    for a in argv:
        if a == '--write':
            write = True
        elif a in ('-h', '--help'):
            print(__doc__)
            return 0
        else:
            paths.append(a)
    passed = failed = 0
    for p in paths:
        if not os.path.exists(p):
            # e.g. an unexpanded shell glob when notebooks/ is empty
            if any(ch in p for ch in '*?['):
                continue
            print('FAIL %s (not found)' % p, flush=True)
            failed += 1
            continue
        if run_one(p, write):
            passed += 1
        else:
            failed += 1
    print('%d passed, %d failed' % (passed, failed), flush=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
