using System.Text;
using EdgeCache.Proxy.Internal;
using Microsoft.Extensions.Primitives;

namespace EdgeCache.Proxy.Tests;

/// <summary>Which Link members (RFC 8288 §3) an edge repeats in a 103 Early Hints (RFC 8297), and how many URLs it remembers.</summary>
public class EarlyHintsTests
{
    [Theory]
    [InlineData("</a.css>; rel=preload; as=style", "</a.css>; rel=preload; as=style")]
    [InlineData("</a.css>;rel=\"preload\";as=style, </b>; rel=next", "</a.css>;rel=\"preload\";as=style")]
    [InlineData("<https://cdn.example>; rel=\"dns-prefetch preconnect\"", "<https://cdn.example>; rel=\"dns-prefetch preconnect\"")]
    [InlineData("</x>; REL=PreLoad", "</x>; REL=PreLoad")]
    [InlineData("</a,b.js>; rel=preload; title=\"one, two\", </c>; rel=preconnect", "</a,b.js>; rel=preload; title=\"one, two\", </c>; rel=preconnect")]
    [InlineData("</a>; rel=modulepreload", null)]
    [InlineData("</a>; rel=stylesheet, </b>; rel=next", null)]
    [InlineData("</a>; as=style", null)]
    [InlineData("</a>; rel=preload; title=\"open", null)]
    [InlineData("no-angle; rel=preload", null)]
    [InlineData("", null)]
    public void Only_preload_and_preconnect_members_are_kept_exactly_as_sent(string link, string? expected)
    {
        Assert.Equal(expected, EarlyHints.Select(link));
    }

    [Fact]
    public void Members_over_several_field_lines_are_one_list_and_a_control_character_drops_them_all()
    {
        Assert.Equal("</a>; rel=preload, </b>; rel=preconnect", EarlyHints.Select(new StringValues(["</a>; rel=preload", "</n>; rel=next, </b>; rel=preconnect"])));
        Assert.Null(EarlyHints.Select(new StringValues(["</a>; rel=preload", "</b>; rel=preload\r\nX-Injected: 1"])));
        Assert.Null(EarlyHints.Select(StringValues.Empty));
    }

    [Fact]
    public void The_103_is_a_whole_response_head_and_a_page_without_hints_is_forgotten()
    {
        var hints = new EarlyHints(maxUrls: 2);
        Assert.True(hints.IsEmpty);

        hints.Remember("k1", "</a>; rel=preload");
        Assert.True(hints.TryGet("k1", out var response));
        Assert.Equal("HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n", Encoding.ASCII.GetString(response));

        hints.Remember("k1", "</b>; rel=preload");
        Assert.True(hints.TryGet("k1", out response));
        Assert.Contains("</b>", Encoding.ASCII.GetString(response), StringComparison.Ordinal);

        hints.Remember("k1", "</b>; rel=next");
        Assert.False(hints.TryGet("k1", out _));
        Assert.True(hints.IsEmpty);
    }

    [Fact]
    public void Past_its_capacity_new_URLs_are_not_remembered_until_old_ones_are_forgotten()
    {
        var hints = new EarlyHints(maxUrls: 2);
        hints.Remember("k1", "</a>; rel=preload");
        hints.Remember("k2", "</a>; rel=preload");
        hints.Remember("k3", "</a>; rel=preload");
        Assert.False(hints.TryGet("k3", out _));

        hints.Remember("k1", StringValues.Empty);
        hints.Remember("k3", "</a>; rel=preload");
        Assert.True(hints.TryGet("k3", out _));
        Assert.True(hints.TryGet("k2", out _));
    }
}
