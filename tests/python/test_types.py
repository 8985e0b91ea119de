"""cportalocker.types: the reference's public mode literals and aliases,
under the same names and with the same members."""

import typing

import portalocker.types as ref_types

from cportalocker import types


def test_mode_literals_match_the_reference():
    for name in ('TextMode', 'BinaryMode', 'Mode'):
        ours = typing.get_args(getattr(types, name))
        theirs = typing.get_args(getattr(ref_types, name))
        assert ours == theirs, name


def test_mode_is_text_and_binary_flat():
    modes = typing.get_args(types.Mode)
    assert all(isinstance(m, str) for m in modes)
    assert set(modes) == set(typing.get_args(types.TextMode)) | set(
        typing.get_args(types.BinaryMode))
    assert not set(typing.get_args(types.TextMode)) & set(
        typing.get_args(types.BinaryMode))


def test_every_mode_is_one_open_accepts(tmp_path):
    for mode in typing.get_args(types.Mode):
        p = tmp_path / 'f'
        p.write_bytes(b'')
        if 'x' in mode:
            p.unlink()
        with open(p, mode) as fh:
            assert ('b' in mode) == ('b' in fh.mode)


def test_aliases_exist():
    assert set(types.FileOpenKwargs.__annotations__) == set(
        ref_types.FileOpenKwargs.__annotations__)
    for name in ('Filename', 'IO', 'HasFileno', 'FileArgument'):
        assert hasattr(types, name), name
    with open(__file__) as fh:
        assert types.HasFileno.fileno  # a Protocol, used statically
        assert fh.fileno() >= 0
