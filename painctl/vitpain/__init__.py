"""ViTPain (pain intensity from a face and a neutral reference of the same person), done faithfully.

One module per concern: config (ModelConfig, TrainConfig), backbone (tiny DINOv3 or a hub DINOv3 /
DINOv2), lora, model (ViTPain), pairs (references, paired augmentation, sampling), checkpoint
(safetensors directories), training (train_model) and inference (predict_frames). Import the
submodules directly; this package imports nothing heavy.
"""
