/* residency: the data-residency policy (see residency.h). */
#include "residency.h"
#include "peer.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The one table: ISO 3166-1 alpha-2 (officially assigned codes, as Debian's
 * iso-codes lists them) and the members of each group. The EU list is the
 * 27 member states since 2020 (GR, not the EU's own "EL"); the EEA is the
 * EU with Iceland, Liechtenstein and Norway. */
static const char countries[] =
	"AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN "
	"BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ "
	"DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL "
	"GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM "
	"JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME "
	"MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP "
	"NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD "
	"SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO "
	"TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

#define EU_MEMBERS                                                                          \
	"AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE"

static const struct {
	const char *name;
	const char *members;
} groups[] = {
	{"EU", EU_MEMBERS},
	{"EEA", EU_MEMBERS " IS LI NO"},
};

/* Common words that are not ISO codes, and the code meant. */
static const struct {
	const char *word, *code;
} aliases[] = {{"UK", "GB"}, {"EL", "GR"}};

/* Is the word (len bytes, any case) one of the blank-separated list? */
static bool in_list(const char *list, const char *word, size_t len)
{
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, " ");
		if (n == len && strncasecmp(p, word, len) == 0)
			return true;
		p += n;
		p += strspn(p, " ");
	}
	return false;
}

bool residency_code_is_country(const char *code)
{
	return strlen(code) == 2 && in_list(countries, code, 2);
}

static const char *group_members(const char *word, size_t len)
{
	for (size_t i = 0; i < ARRAY_LEN(groups); i++)
		if (strlen(groups[i].name) == len && strncasecmp(groups[i].name, word, len) == 0)
			return groups[i].members;
	return NULL;
}

bool residency_code_is_group(const char *code)
{
	return group_members(code, strlen(code)) != NULL;
}

static char *unknown_code(const char *word, size_t len, bool groups_too)
{
	for (size_t i = 0; i < ARRAY_LEN(aliases); i++)
		if (len == 2 && strncasecmp(word, aliases[i].word, 2) == 0)
			return xasprintf("unknown jurisdiction '%.*s': the ISO 3166 code is %s",
					 (int)len, word, aliases[i].code);
	return xasprintf("unknown jurisdiction '%.*s' (an ISO 3166 alpha-2 country code%s)",
			 (int)len, word, groups_too ? ", EU or EEA" : ", not a group");
}

char *residency_policy_error(const char *policy)
{
	const char *p = policy + strspn(policy, " \t");
	if (!*p)
		return xstrdup("'jurisdictions' needs at least one country code, EU or EEA");
	while (*p) {
		size_t n = strcspn(p, " \t");
		if (!(n == 2 && in_list(countries, p, 2)) && !group_members(p, n))
			return unknown_code(p, n, true);
		p += n;
		p += strspn(p, " \t");
	}
	return NULL;
}

char *residency_country_error(const char *code)
{
	if (residency_code_is_country(code))
		return NULL;
	return unknown_code(code, strlen(code), false);
}

bool residency_policy_allows(const char *policy, const char *country)
{
	size_t clen = strlen(country);
	for (const char *p = policy; *p;) {
		p += strspn(p, " \t");
		size_t n = strcspn(p, " \t");
		const char *members = group_members(p, n);
		if (n && ((n == clen && strncasecmp(p, country, n) == 0) ||
			  (members && in_list(members, country, clen))))
			return true;
		p += n;
	}
	return false;
}

enum residency_verdict residency_node_verdict(const struct config *cfg,
					      const struct node_conf *node)
{
	if (!cfg->jurisdictions)
		return RESIDENCY_NO_POLICY;
	if (!node || !node->jurisdiction)
		return RESIDENCY_UNKNOWN;
	return residency_policy_allows(cfg->jurisdictions, node->jurisdiction) ? RESIDENCY_INSIDE
										: RESIDENCY_OUTSIDE;
}

static const char *verdict_word(enum residency_verdict v)
{
	switch (v) {
	case RESIDENCY_INSIDE:
		return "inside";
	case RESIDENCY_OUTSIDE:
		return "OUTSIDE";
	case RESIDENCY_UNKNOWN:
		return "no jurisdiction: refused";
	case RESIDENCY_NO_POLICY:
		break;
	}
	return "no policy";
}

char *residency_describe(const struct config *cfg)
{
	struct buf b;
	buf_init(&b);
	buf_addf(&b, "jurisdictions = %s:", cfg->jurisdictions ? cfg->jurisdictions : "(unset)");
	bool any = cfg->jurisdictions != NULL;
	for (size_t i = 0; i < cfg->n_nodes; i++) {
		const struct node_conf *n = &cfg->nodes[i];
		any = any || n->jurisdiction;
		buf_addf(&b, "%s %s %s (%s)", i ? "," : "", n->name,
			 n->jurisdiction ? n->jurisdiction : "-",
			 verdict_word(residency_node_verdict(cfg, n)));
	}
	if (!any) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

/* "outside jurisdictions = NO EEA (FILE:LINE)": the policy half of a refusal. */
static char *policy_words(const struct config *cfg)
{
	return xasprintf("outside [lifeboat] jurisdictions = %s (%s:%d)", cfg->jurisdictions,
			 cfg->path, cfg->jurisdictions_line);
}

/* 0 when node may receive a copy; else *err says why, starting with
 * "FILE:LINE: WHAT" (what, at line, is the copy's destination). */
static int judge_node(const struct config *cfg, const struct node_conf *node, int line,
		      const char *what, char **err)
{
	enum residency_verdict v = residency_node_verdict(cfg, node);
	if (v == RESIDENCY_NO_POLICY || v == RESIDENCY_INSIDE)
		return 0;
	char *pol = policy_words(cfg);
	if (v == RESIDENCY_OUTSIDE)
		*err = xasprintf("%s:%d: %s goes to [node %s] in %s (%s:%d), %s: refused",
				 cfg->path, line, what, node->name, node->jurisdiction, cfg->path,
				 node->jurisdiction_line, pol);
	else if (node)
		*err = xasprintf("%s:%d: %s goes to [node %s] (%s:%d), which sets no "
				 "'jurisdiction', %s: refused (set it in that section)",
				 cfg->path, line, what, node->name, cfg->path, node->line, pol);
	else
		*err = xasprintf("%s:%d: %s goes to a machine that is no [node], so it has no "
				 "jurisdiction, %s: refused (name a [node] with 'jurisdiction')",
				 cfg->path, line, what, pol);
	free(pol);
	return -1;
}

/* The [node] a sync's target is on: NODE:PATH names it; a local path is
 * this machine's node; HOST:PATH is none. */
static const struct node_conf *target_node(const struct config *cfg, const struct sync_conf *sc)
{
	if (sc->target_node)
		return config_find_node(cfg, sc->target_node);
	if (!sc->target_host && cfg->node)
		return config_find_node(cfg, cfg->node);
	return NULL;
}

/* The host part of "[user@]host", compared without the user. */
static bool same_host(const char *a, const char *b)
{
	const char *at_a = strrchr(a, '@'), *at_b = strrchr(b, '@');
	return strcmp(at_a ? at_a + 1 : a, at_b ? at_b + 1 : b) == 0;
}

/* A HOST:PATH target on a machine some [node] describes: the name to write. */
static const struct node_conf *node_of_host(const struct config *cfg, const char *host)
{
	for (size_t i = 0; host && i < cfg->n_nodes; i++) {
		const struct node_conf *n = &cfg->nodes[i];
		if ((n->address && same_host(n->address, host)) || (n->ssh && same_host(n->ssh, host)))
			return n;
	}
	return NULL;
}

int residency_check_sync(const struct config *cfg, const struct sync_conf *sc, char **err)
{
	if (!cfg->jurisdictions)
		return 0;
	char *what = xasprintf("[sync %s] target '%s'", sc->name, sc->target);
	const struct node_conf *node = target_node(cfg, sc);
	int rc = judge_node(cfg, node, sc->target_line, what, err);
	free(what);
	const struct node_conf *named = node ? NULL : node_of_host(cfg, sc->target_host);
	if (rc < 0 && named) {
		char *hinted = xasprintf("%s; that host is [node %s]: write the target as %s:%s",
					 *err, named->name, named->name, sc->target_path);
		free(*err);
		*err = hinted;
	}
	/* A target that is this node: after a failover this node is primary and
	 * its copy flows back to the other node (syncer.c, reverse()). */
	const struct node_conf *peer = peer_node(cfg);
	if (rc == 0 && sc->target_node && cfg->node && strcmp(sc->target_node, cfg->node) == 0 &&
	    peer) {
		what = xasprintf("[sync %s] (after a failover, from this node back to its source)",
				 sc->name);
		rc = judge_node(cfg, peer, sc->target_line, what, err);
		free(what);
	}
	return rc;
}

int residency_check_db_copy(const struct config *cfg, const struct db_server *to, char **err)
{
	if (!cfg->jurisdictions)
		return 0;
	char *what = xasprintf("a copy of the database (to %s:%u)", to->host ? to->host : "?",
			       to->port);
	const struct node_conf *n = to->node ? config_find_node(cfg, to->node) : NULL;
	int rc = judge_node(cfg, n, n ? n->line : cfg->db.line, what, err);
	free(what);
	return rc;
}

int residency_check_failover(const struct config *cfg, const struct db_server *old_primary,
			     char **err)
{
	if (residency_check_db_copy(cfg, old_primary, err) < 0)
		return -1;
	for (size_t i = 0; i < cfg->n_syncs; i++)
		if (residency_check_sync(cfg, &cfg->syncs[i], err) < 0)
			return -1;
	return 0;
}
