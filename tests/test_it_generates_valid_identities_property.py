"""Property tests of range definitions: every IMPU valid and inside its block; overlap is exact."""

from hypothesis import given, settings
from hypothesis import strategies as st

from identity_blocks.ranges import Family, InvalidDefinition, families_overlap, parse_pattern
from sip.uri import parse_impu

user_chars = st.text(alphabet="abcxyz019-._", min_size=0, max_size=4)
domains = st.sampled_from(["help.example.net", "ims.example.net", "a.b.example.org"])


@st.composite
def patterns(draw):
    width = draw(st.sampled_from([0, 0, 2, 4, 7]))
    placeholder = "{n}" if width == 0 else f"{{n:0{width}d}}"
    pattern = f"sip:{draw(user_chars)}{placeholder}{draw(user_chars)}@{draw(domains)}"
    top = 10**width - 1 if width else 10**9
    first = draw(st.integers(0, top))
    last = draw(st.integers(first, min(top, first + draw(st.sampled_from([0, 9, 999, 10**6])))))
    return pattern, first, last


@settings(max_examples=300, deadline=None)
@given(patterns(), st.data())
def test_it_generates_only_valid_identities_inside_the_block(definition, data):
    pattern, first, last = definition
    try:
        family = parse_pattern(pattern, first, last)
    except InvalidDefinition:
        return  # e.g. a user part that would start with "." is refused with a reason, never half-accepted
    index = data.draw(st.integers(0, family.size - 1))
    impu = family.impu(index)
    parse_impu(impu)
    assert family.index_of(impu) == index


small = st.builds(
    lambda prefix, suffix, width, first, span: Family(prefix, suffix, first, first + span, width),
    st.text(alphabet="a1-0", max_size=3),
    st.text(alphabet="a1-0", max_size=3),
    st.sampled_from([0, 1, 2, 3]),
    st.integers(0, 99),
    st.integers(0, 120),
).filter(lambda f: f.width == 0 or len(str(f.last)) <= f.width)


def _members(family):
    return {family.impu(i).lower() for i in range(family.size)}


@settings(max_examples=2000, deadline=None)
@given(small, small)
def test_it_finds_an_overlap_exactly_when_two_blocks_share_an_identity(a, b):
    assert families_overlap(a, b) == bool(_members(a) & _members(b))
