"""What `amass-fast process` writes and how training code reads it back.

    writers   the .pt file and the memory-mappable shards (manifest.json, one .zip per task), read back as
              untrusted input
    dataset   StickClips: a torch Dataset over a .pt file or a shards folder
    preview   a clip as a GIF, many clips as a PNG contact sheet

May import: amass_fast.io, amass_fast.schemas, amass_fast.labels (the action names), amass_fast.finite.
"""
