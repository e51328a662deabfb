"""Everything that exercises the pipeline rather than being part of it; the pipeline never imports it.

    demo               `amass-fast demo`: a synthetic AMASS tree, processed end to end
    bench              `amass-fast bench`: throughput per backend beside smplx and plain torch
    baselines          plain-torch pipelines of the same outputs, the alternative a benchmark is measured against
    synthetic          synthetic AMASS files in the real layouts (SMPL+H, SMPL-X, shape.npz, *_stagei.npz)
    synthetic_models   synthetic body-model files in the real key layouts (no licensed data)
    humanml3d_synthetic  a synthetic HumanML3D checkout (index.csv, texts.zip) over a synthetic AMASS tree
    testserver         a local server speaking the AMASS download protocol
    selftest/          `amass-fast selftest --hostile`: the hostile-input corpus, one module per group

The demo, bench and selftest commands live here, beside what they drive; amass_fast.cli reaches them only through
its table of commands. May import anything in the package, amass_fast.cli included (the corpus runs commands).
"""
