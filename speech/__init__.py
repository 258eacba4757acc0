"""The speech core: errors, audio, the voice value object, the segmenter, the pipeline, the runtime and the
engine. A plain package (no models, no views) that imports none of the project's apps."""
