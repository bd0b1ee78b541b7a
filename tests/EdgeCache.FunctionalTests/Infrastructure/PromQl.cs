using System.Text.RegularExpressions;

namespace EdgeCache.FunctionalTests.Infrastructure;

/// <summary>
/// Pulls the metric names and label names out of PromQL expressions (Grafana panel queries and
/// <c>label_values(...)</c> variable queries). Not a parser: it removes strings, label matchers, ranges
/// and grouping clauses, and what remains that is not a function, keyword or variable is a metric.
/// </summary>
internal static partial class PromQl
{
    private static readonly HashSet<string> Keywords = new(StringComparer.OrdinalIgnoreCase)
    {
        "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "inf", "nan",
    };

    public static (List<string> Metrics, List<string> Labels) Parse(string expression)
    {
        var labels = new List<string>();
        var text = StringLiteral().Replace(expression, "\"\"");
        text = LabelValues().Replace(text, m =>
        {
            labels.Add(m.Groups["label"].Value);
            return m.Groups["metric"].Value;
        });
        text = Braces().Replace(text, m =>
        {
            labels.AddRange(Matcher().Matches(m.Value).Select(x => x.Groups[1].Value));
            return " ";
        });
        text = Brackets().Replace(text, " ");
        text = Grouping().Replace(text, m =>
        {
            labels.AddRange(m.Groups["labels"].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
            return " ";
        });
        var metrics = Identifier().Matches(text).Select(m => m.Groups[1].Value).Where(n => !Keywords.Contains(n)).ToList();
        return (metrics, labels);
    }

    /// <summary>Labels a legend shows (<c>{{instance}}</c>).</summary>
    public static IEnumerable<string> LegendLabels(string legend) => Legend().Matches(legend).Select(m => m.Groups[1].Value);

    [GeneratedRegex("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")]
    private static partial Regex StringLiteral();

    [GeneratedRegex(@"\blabel_values\s*\(\s*(?<metric>[^,()]+?)\s*,\s*(?<label>[A-Za-z_][A-Za-z0-9_]*)\s*\)")]
    private static partial Regex LabelValues();

    [GeneratedRegex(@"\{[^{}]*\}")]
    private static partial Regex Braces();

    [GeneratedRegex(@"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)")]
    private static partial Regex Matcher();

    [GeneratedRegex(@"\[[^\[\]]*\]")]
    private static partial Regex Brackets();

    [GeneratedRegex(@"\b(?:by|without|on|ignoring|group_left|group_right)\s*\((?<labels>[^()]*)\)", RegexOptions.IgnoreCase)]
    private static partial Regex Grouping();

    [GeneratedRegex(@"(?<![\w$.:])((?>[A-Za-z_:][A-Za-z0-9_:]*))(?!\s*\()")]
    private static partial Regex Identifier();

    [GeneratedRegex(@"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")]
    private static partial Regex Legend();
}
