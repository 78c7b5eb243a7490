"""A minimal stand-in for the einops package (not in Debian 12), enough for
the LDM sources that bench/peers/torch_unet.py runs: rearrange with named
axes, parenthesised groups and '()', and repeat adding new axes. Written for
mend's benchmark; it is not einops."""
import math


def _parse(side):
    groups, cur, tok = [], None, ''
    for ch in side + ' ':
        if ch in ' ()':
            if tok:
                if cur is not None:
                    cur.append(tok)
                else:
                    groups.append([tok])
                tok = ''
            if ch == '(':
                cur = []
            elif ch == ')':
                groups.append(cur)
                cur = None
        else:
            tok += ch
    return groups


def _sizes(groups, shape, known):
    sizes = dict(known)
    if len(groups) != len(shape):
        raise ValueError('einops shim: pattern rank %d vs tensor rank %d' % (len(groups), len(shape)))
    for g, n in zip(groups, shape):
        unknown = [a for a in g if a not in sizes]
        rest = math.prod(sizes[a] for a in g if a in sizes)
        if len(unknown) > 1:
            raise ValueError('einops shim: cannot infer %s' % unknown)
        if unknown:
            sizes[unknown[0]] = n // rest
    return sizes


def _flatten(t, pattern, known):
    """t reshaped to one axis per name of the pattern's left side."""
    left, right = (_parse(side.strip()) for side in pattern.split('->'))
    sizes = _sizes(left, t.shape, known)
    flat = [a for g in left for a in g]
    return t.reshape([sizes[a] for a in flat]), flat, right, sizes


def rearrange(t, pattern, **known):
    t, flat, right, sizes = _flatten(t, pattern, known)
    order = [a for g in right for a in g]
    t = t.permute([flat.index(a) for a in order])
    return t.reshape([math.prod(sizes[a] for a in g) for g in right])


def repeat(t, pattern, **known):
    t, flat, right, sizes = _flatten(t, pattern, known)
    order = [a for g in right for a in g]
    for i, a in enumerate(order):
        if a not in flat:
            t = t.unsqueeze(i)
            flat.insert(i, a)
    t = t.permute([flat.index(a) for a in order]) if sorted(flat) == sorted(order) else t
    t = t.expand([sizes[a] for a in order])
    return t.reshape([math.prod(sizes[a] for a in g) for g in right])
