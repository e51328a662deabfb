"""Files in and out of the machine: everything that reads, fetches, unpacks or writes bytes for the pipeline.

    catalog       the AMASS sub-datasets: archive names, sizes, motion counts, frame rates
    credentials   the AMASS login (environment, ~/.netrc or a hidden prompt; never printed or stored)
    download/     authenticated, resumable, verified download of the archives (one module per job)
    archive       bzip2 decoders, member safety, extraction of .tar.bz2 archives
    guarded       the one guarded reader every file goes through (regular files only, size caps, zip and JSON
                  limits, typed errors naming the file)
    npz           the bounded .npz reader (one pass per member, sizes checked before reading, CRC-32)
    formats       AMASS motion files: the sequence rules (layouts, frame rates, values) on top of npz
    tree          the AMASS tree: the default root, its motion files in a stable order, relative paths
    body_models   body-model files (SMPL+H, SMPL-X): discovery, loading, the built-in skeleton
    unpickle      the restricted unpickler of .pkl model files (arrays only; anything else refused by name)
    verify        the per-dataset report of an extracted tree
    atomic        a file appears under its final name only when complete
    progress      progress bars on a terminal, plain lines in a log file
    workers       process and thread pools that end with their caller (Ctrl-C, SIGTERM, SIGHUP, an error)
    stops         the signals that stop a command (SIGTERM, SIGHUP), for the CLI and the pool workers

May import: amass_fast.schemas, amass_fast.finite and each other; never kernels, process, labels, outputs, cli.
"""
