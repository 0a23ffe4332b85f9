/**
 * The risk rules of intent-risk-taxonomy.json (version 2026-07-09), embedded so the runtime needs no data file.
 * test/protocol/urn.test.ts checks this table against specs/intent-risk-taxonomy.json.
 */

export interface RiskRule {
  readonly category: "prohibited" | "high_risk" | "transparency_risk" | "minimal_or_general"
  readonly rule_id: string
  readonly fragments: ReadonlyArray<string>
}

export const RISK_RULES: ReadonlyArray<RiskRule> = [
  { category: "prohibited", rule_id: "eu-ai-act-social-scoring", fragments: ["social-scoring", "social_scoring", "social:scoring"] },
  { category: "prohibited", rule_id: "eu-ai-act-criminal-risk", fragments: ["criminal-risk", "criminal_risk", "criminal:risk", "predict-crime"] },
  { category: "prohibited", rule_id: "eu-ai-act-workplace-education-emotion", fragments: ["emotion:workplace", "emotion:education", "workplace-monitoring", "education-monitoring", "worker-monitoring"] },
  { category: "prohibited", rule_id: "eu-ai-act-protected-trait-biometric", fragments: ["protected-trait", "protected_trait", "biometric:protected"] },
  { category: "prohibited", rule_id: "eu-ai-act-untargeted-face-scraping", fragments: ["untargeted-scraping", "untargeted_scraping", "face-scraping", "facial-scraping"] },
  { category: "prohibited", rule_id: "eu-ai-act-realtime-remote-biometric-id", fragments: ["remote-biometric:realtime", "realtime-remote-biometric", "real-time-remote-biometric"] },
  { category: "prohibited", rule_id: "eu-ai-act-nonconsensual-sexual-deepfake", fragments: ["nonconsensual-sexual", "non-consensual-sexual", "child-sexual-abuse", "csam"] },
  { category: "high_risk", rule_id: "eu-ai-act-employment-workforce", fragments: ["employment:hiring", "employment:screen", "employment:rank", "recruitment:decision", "workforce:decision", "worker-management", "worker:performance", "worker:discipline"] },
  { category: "high_risk", rule_id: "eu-ai-act-education-admission-grading", fragments: ["education:admission", "education:grading", "education:grade", "student:admission", "student:assess", "exam-grading"] },
  { category: "high_risk", rule_id: "eu-ai-act-credit-essential-services", fragments: ["credit-scoring", "credit:score", "credit:decision", "essential-services", "benefits:eligibility", "public-benefit:eligibility"] },
  { category: "high_risk", rule_id: "eu-ai-act-law-enforcement-border-justice", fragments: ["law-enforcement", "law_enforcement", "migration:decision", "asylum:decision", "border-control", "justice:decision", "democratic-process", "election:decision"] },
  { category: "high_risk", rule_id: "eu-ai-act-healthcare-critical-infrastructure", fragments: ["healthcare:decision", "medical:diagnosis", "medical:triage", "clinical:decision", "critical-infrastructure", "grid:stabilize", "hospital:surge-capacity"] },
  { category: "high_risk", rule_id: "eu-ai-act-physical-world-control", fragments: ["robotics:control", "robotics:fleet", "drone:control", "drone:search", "iot:actuate", "physical-world", "system_control"] },
  { category: "transparency_risk", rule_id: "eu-ai-act-ai-interaction", fragments: ["chatbot", "ai-assistant", "synthetic-media", "deepfake:labelled", "content:generate-public", "creative:generate"] }
]
