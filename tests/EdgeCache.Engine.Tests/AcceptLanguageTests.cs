using Microsoft.Extensions.Primitives;

namespace EdgeCache.Engine.Tests;

/// <summary>RFC 9110 §12.5.4 and RFC 4647: Accept-Language values that mean the same normalise alike (RFC 9111 §4.1).</summary>
public class AcceptLanguageTests
{
    [Theory]
    [InlineData("en-GB, en;q=0.9")]
    [InlineData("EN-gb,en;q=0.90")]
    [InlineData("en-gb ,  en ; q=0.900")]
    [InlineData("en;q=0.9, en-GB")]
    [InlineData("en;q=0.9, en-GB;q=1.0")]
    public void Rfc4647_case_whitespace_q_spelling_and_order_by_weight_do_not_change_the_variant(string value)
    {
        Assert.Equal("en-gb,en;q=0.9", AcceptLanguage.Normalize(value));
    }

    [Fact]
    public void Rfc9110_12_5_4_members_of_equal_weight_keep_the_users_order()
    {
        Assert.Equal("de,fr,en;q=0.5", AcceptLanguage.Normalize("de, en;q=0.5, fr"));
        Assert.NotEqual(AcceptLanguage.Normalize("de, fr"), AcceptLanguage.Normalize("fr, de"));
    }

    [Fact]
    public void Rfc9110_12_5_4_several_lines_are_one_list_and_q_zero_is_kept()
    {
        Assert.Equal("da,en-gb;q=0.8,en;q=0", AcceptLanguage.Normalize(new StringValues(["da, en;q=0", "en-gb;q=0.8"])));
    }

    [Fact]
    public void Rfc9111_4_1_an_absent_field_is_not_an_empty_one()
    {
        Assert.NotEqual(AcceptLanguage.Normalize(StringValues.Empty), AcceptLanguage.Normalize(""));
        Assert.Equal(Vary.Normalize("accept-language", "EN, fr;q=0.5"), AcceptLanguage.Normalize("en,fr;q=0.5"));
    }
}
