"""Image decoding shared by the thumbnail route and the self-test.

- ``pil``: JPEG, PNG, WebP and HEIC (Pillow) to a thumbnail, in this process;
- ``raw``: camera RAW (rawpy / LibRaw) to a thumbnail, in a child process;
- ``isolate``: that child process, with an address-space and a time limit;
- ``tiffmeta``: camera make and model read from TIFF and Exif headers;
- ``encode``: a thumbnail as JPEG (or PNG when it has transparency);
- ``samples``: the tiny files the self-test decodes (shipped in ../samples).

Like the handlers, these modules import Pillow, numpy and rawpy inside the
functions that use them, so importing one costs a cold start nothing.
"""
