namespace EdgeCache.LoadOrigin;

/// <summary>How the load origin answers non-admin requests.</summary>
internal enum FailMode
{
    Off,
    ServiceUnavailable,
    Reset,
}
